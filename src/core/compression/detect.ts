import { ErrorCodes, PlaitError } from '../../errors.js';
import {
  DOCKER_FOREIGN_LAYER, DOCKER_FOREIGN_LAYER_GZIP, DOCKER_LAYER, DOCKER_LAYER_GZIP, OCI_LAYER, OCI_LAYER_GZIP,
  OCI_LAYER_NONDISTRIBUTABLE, OCI_LAYER_NONDISTRIBUTABLE_GZIP, OCI_LAYER_NONDISTRIBUTABLE_ZSTD, OCI_LAYER_ZSTD,
} from '../../oci/mediatype.js';

// What a layer blob is compressed with. containers/image decides by the first bytes of the stream (its
// compression.DetectCompression), not by the media type, because media types are written by tools that sometimes
// lie (a ".tar+gzip" that is plain tar); plait does the same whenever it reads the bytes, and uses the media type only
// where no bytes are read (deciding that a layer is already in the wanted form, mapping the result to a type).

/** The algorithms plait can write. bzip2 and xz are readable by some peers but no manifest type can carry them. */
export type Algorithm = 'gzip' | 'zstd';
export type Compression = Algorithm | 'none';

const GZIP_MAGIC = [0x1f, 0x8b] as const;
// 0xFD2FB528 little-endian: a zstd frame. zstd:chunked layers start with an ordinary zstd frame too (their metadata
// lives in skippable frames at the end), so they are detected as zstd — which is also how peers read them.
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;

/** Bytes needed by detectCompression to decide. */
export const MAGIC_BYTES = 4;

function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/** The compression of a blob judged by its first bytes (give at least MAGIC_BYTES unless the blob is shorter). */
export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

interface LayerType {
  compression: Compression;
  nondistributable: boolean;
  docker: boolean;
}

// Every layer media type the manifests plait reads can carry, with what it says about the bytes.
const LAYER_TYPES: ReadonlyMap<string, LayerType> = new Map([
  [OCI_LAYER, { compression: 'none', nondistributable: false, docker: false }],
  [OCI_LAYER_GZIP, { compression: 'gzip', nondistributable: false, docker: false }],
  [OCI_LAYER_ZSTD, { compression: 'zstd', nondistributable: false, docker: false }],
  [OCI_LAYER_NONDISTRIBUTABLE, { compression: 'none', nondistributable: true, docker: false }],
  [OCI_LAYER_NONDISTRIBUTABLE_GZIP, { compression: 'gzip', nondistributable: true, docker: false }],
  [OCI_LAYER_NONDISTRIBUTABLE_ZSTD, { compression: 'zstd', nondistributable: true, docker: false }],
  [DOCKER_LAYER, { compression: 'none', nondistributable: false, docker: true }],
  [DOCKER_LAYER_GZIP, { compression: 'gzip', nondistributable: false, docker: true }],
  [DOCKER_FOREIGN_LAYER, { compression: 'none', nondistributable: true, docker: true }],
  [DOCKER_FOREIGN_LAYER_GZIP, { compression: 'gzip', nondistributable: true, docker: true }],
]);

/** The compression a layer media type announces, or undefined for a type that is not a known layer type. */
export function compressionOfMediaType(mediaType: string): Compression | undefined {
  return LAYER_TYPES.get(mediaType)?.compression;
}

/** Whether the type is a non-distributable (OCI) or foreign (Docker) layer: registries may not hold its bytes. */
export function isNonDistributable(mediaType: string): boolean {
  return LAYER_TYPES.get(mediaType)?.nondistributable === true;
}

/** Whether the type is one of the known layer types (OCI or Docker). */
export function isLayerMediaType(mediaType: string): boolean {
  return LAYER_TYPES.has(mediaType);
}

/** The OCI layer media type for a compression (…tar, …tar+gzip, …tar+zstd, or their nondistributable forms). */
export function ociLayerMediaType(compression: Compression, nondistributable = false): string {
  if (nondistributable) {
    return compression === 'gzip' ? OCI_LAYER_NONDISTRIBUTABLE_GZIP : compression === 'zstd' ? OCI_LAYER_NONDISTRIBUTABLE_ZSTD : OCI_LAYER_NONDISTRIBUTABLE;
  }
  return compression === 'gzip' ? OCI_LAYER_GZIP : compression === 'zstd' ? OCI_LAYER_ZSTD : OCI_LAYER;
}

/**
 * The OCI media type a layer of type `mediaType` gets once its bytes are in `compression`: the distributable flavour
 * is kept, Docker types become their OCI counterparts (zstd has no Docker type at all). Unknown types → E_UNSUPPORTED,
 * since guessing would write a manifest peers reject.
 */
export function ociLayerMediaTypeFor(mediaType: string, compression: Compression): string {
  const t = LAYER_TYPES.get(mediaType);
  if (t === undefined) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${JSON.stringify(mediaType)} is not a layer media type plait can recompress`, {
      details: { mediaType },
    });
  }
  return ociLayerMediaType(compression, t.nondistributable);
}
