import { ErrorCodes, PlaitError, isPlaitError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { parseManifest } from '../oci/manifest.js';
import type { ParsedManifest } from '../oci/manifest.js';
import type { ImageSource, ManifestBlob } from './types.js';
import { readSmall } from './registry/image.js';

// The small documents a source serves — manifests and image configs — parsed with the source and the digest in every
// error, so that a hostile layout or registry is named in the one line that refuses it.

function named(subject: string, e: unknown, name?: string): unknown {
  if (!isPlaitError(e) || (name !== undefined && e.message.startsWith(name))) return e;
  return new PlaitError(e.code, `${subject}: ${e.message}`, { cause: e, retryable: e.retryable, details: e.details });
}

/** parseManifest of what `src` served, errors prefixed with "SOURCE: manifest DIGEST". */
export function parseServedManifest(src: Pick<ImageSource, 'name'>, m: Pick<ManifestBlob, 'bytes' | 'mediaType' | 'digest'>): ParsedManifest {
  try {
    return parseManifest(m.bytes, m.mediaType);
  } catch (e) {
    throw named(`${src.name}: manifest ${m.digest}`, e);
  }
}

/** The fields of an image config that plait reads; each is checked for its JSON type. */
export interface ServedConfig {
  created?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  config?: { Labels?: Record<string, string> | null; Env?: string[] };
}

/** Read and parse an image config blob (verified, at most 4 MiB), refusing one whose platform fields are not strings. */
export async function readServedConfig(src: ImageSource, digest: Digest, size: number): Promise<{ bytes: Buffer; config: ServedConfig }> {
  const subject = `${src.name}: config ${digest}`;
  let bytes: Buffer;
  try {
    bytes = await readSmall(await src.getBlob({ digest, size }));
  } catch (e) {
    throw named(subject, e, src.name);
  }
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${subject}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${subject}: must be a JSON object`);
  const c = v as Record<string, unknown>;
  for (const k of ['created', 'architecture', 'os', 'variant', 'os.version']) {
    if (c[k] != null && typeof c[k] !== 'string') throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${subject}: ${k}: must be a string`, { details: { path: k } });
  }
  const features = c['os.features'];
  if (features != null && (!Array.isArray(features) || features.some((f) => typeof f !== 'string'))) {
    throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${subject}: os.features: must be an array of strings`, { details: { path: 'os.features' } });
  }
  return { bytes, config: c };
}
