import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import {
  compressionOfMediaType, detectCompression, isLayerMediaType, isNonDistributable, ociLayerMediaType, ociLayerMediaTypeFor,
} from '../../../src/core/compression/detect.js';
import { PlaitError } from '../../../src/errors.js';
import * as mt from '../../../src/oci/mediatype.js';

describe('detectCompression', () => {
  it('recognises gzip and zstd by their magic, everything else is none', () => {
    expect(detectCompression(gzipSync(Buffer.from('hello')))).toBe('gzip');
    expect(detectCompression(zstdCompress(Buffer.from('hello')))).toBe('zstd');
    expect(detectCompression(Buffer.from([0x1f, 0x8b]))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe('zstd');
    expect(detectCompression(Buffer.from('ustar tar header'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
    // A prefix is not enough: three bytes of the zstd magic are not zstd.
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f]))).toBe('none');
    expect(detectCompression(Buffer.from([0x1f]))).toBe('none');
    // bzip2 and xz are not algorithms plait reads: treated as opaque (uncompressed) bytes.
    expect(detectCompression(Buffer.from('BZh91AY'))).toBe('none');
  });
});

describe('media types', () => {
  it('maps every OCI and Docker layer type to its compression and distributability', () => {
    const cases: Array<[string, string, boolean]> = [
      [mt.OCI_LAYER, 'none', false], [mt.OCI_LAYER_GZIP, 'gzip', false], [mt.OCI_LAYER_ZSTD, 'zstd', false],
      [mt.OCI_LAYER_NONDISTRIBUTABLE, 'none', true], [mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP, 'gzip', true],
      [mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD, 'zstd', true], [mt.DOCKER_LAYER, 'none', false], [mt.DOCKER_LAYER_GZIP, 'gzip', false],
      [mt.DOCKER_FOREIGN_LAYER, 'none', true], [mt.DOCKER_FOREIGN_LAYER_GZIP, 'gzip', true],
    ];
    for (const [type, compression, nd] of cases) {
      expect(compressionOfMediaType(type), type).toBe(compression);
      expect(isNonDistributable(type), type).toBe(nd);
      expect(isLayerMediaType(type)).toBe(true);
    }
    expect(compressionOfMediaType(mt.OCI_CONFIG)).toBeUndefined();
    expect(isLayerMediaType('application/vnd.example.blob')).toBe(false);
  });

  it('gives the OCI type for a compression, keeping the nondistributable flavour', () => {
    expect(ociLayerMediaType('none')).toBe(mt.OCI_LAYER);
    expect(ociLayerMediaType('gzip')).toBe(mt.OCI_LAYER_GZIP);
    expect(ociLayerMediaType('zstd')).toBe(mt.OCI_LAYER_ZSTD);
    expect(ociLayerMediaType('none', true)).toBe(mt.OCI_LAYER_NONDISTRIBUTABLE);
    expect(ociLayerMediaType('gzip', true)).toBe(mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP);
    expect(ociLayerMediaType('zstd', true)).toBe(mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD);
    expect(ociLayerMediaTypeFor(mt.DOCKER_LAYER_GZIP, 'zstd')).toBe(mt.OCI_LAYER_ZSTD);
    expect(ociLayerMediaTypeFor(mt.DOCKER_FOREIGN_LAYER_GZIP, 'zstd')).toBe(mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD);
    expect(ociLayerMediaTypeFor(mt.OCI_LAYER_ZSTD, 'gzip')).toBe(mt.OCI_LAYER_GZIP);
    expect(() => ociLayerMediaTypeFor('application/vnd.example.blob', 'zstd')).toThrow(PlaitError);
    try {
      ociLayerMediaTypeFor('application/vnd.example.blob', 'zstd');
    } catch (e) {
      expect((e as PlaitError).code).toBe('E_UNSUPPORTED');
    }
  });
});
