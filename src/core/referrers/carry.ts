import { Readable } from 'node:stream';
import { ErrorCodes, PlaitError, isPlaitError } from '../../errors.js';
import { digestOf, encodedPart, parseDigest } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import { goMarshal, serializeOCIIndex, serializeOCIManifest } from '../../oci/gojson.js';
import { parseManifest } from '../../oci/manifest.js';
import { OCI_INDEX, OCI_MANIFEST } from '../../oci/mediatype.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../../oci/types.js';
import type { ImageDestination, ImageSource, ManifestBlob } from '../../transports/types.js';
import { readSmall } from '../../transports/registry/image.js';
import { Copier } from '../copy/copy.js';
import type { SharedCopyState } from '../copy/copy.js';

// Carrying what refers to an image along with it: cosign's attachments under the tag schema (`sha256-<hex>.sig`,
// `.att`, `.sbom` in the same repository) and OCI 1.1 artifacts whose `subject` is the image, found through the
// referrers API or, where a registry has none (distribution 2.8 and v3.0.0 both answer 404), the `sha256-<hex>` index
// of the referrers tag schema. Every manifest is read by digest and verified, its blobs go through the copy engine
// (verified streams), and a referrer whose subject is not the image is refused rather than carried.
//
// The destination is written so that both kinds of reader find the result: a tag attachment keeps its tag (merged with
// one already there, so plait's own signatures and the source's live side by side), an artifact is written by digest
// and, unless the destination registry indexed it itself (OCI-Subject), added to the destination's fallback index.

export const COSIGN_TAG_SUFFIXES = ['sig', 'att', 'sbom'] as const;
export type CosignSuffix = (typeof COSIGN_TAG_SUFFIXES)[number];

/** What the referrers of an instance are found with; a registry transport implements it (API, then fallback tag). */
export interface ReferrersReader {
  referrers(digest: Digest): Promise<{ index: ManifestBlob | undefined; api: boolean }>;
}

export interface ReferrersOptions {
  /** Only referrers whose artifact type is one of these (tag attachments: the media type of their layers). */
  artifactTypes?: string[];
  /** Leave cosign signatures (`.sig`) behind — signatures.removeSource. */
  skipSignatures?: boolean;
  shared?: SharedCopyState;
}

export interface CarriedReferrer {
  subject: Digest;
  digest: Digest;
  artifactType: string;
  /** The tag it was found under (tag attachments and fallback indexes), or 'api'. */
  foundAs: string;
  /** 'written', 'merged' (layers added to an attachment already there) or 'present' (nothing to do). */
  outcome: 'written' | 'merged' | 'present';
}

type Both = ImageSource & ImageDestination;

const MAX_SMALL = 4 * 1024 * 1024;

export function cosignTag(digest: Digest, suffix: CosignSuffix): string {
  return `${fallbackTag(digest)}.${suffix}`;
}

/** The referrers tag schema's tag for `digest`: `<alg>-<hex>` (algorithm ≤ 32, hex ≤ 64 characters). */
export function fallbackTag(digest: Digest): string {
  const d = parseDigest(digest);
  const alg = d.slice(0, d.indexOf(':')).slice(0, 32).replace(/[^a-zA-Z0-9_.-]/g, '-');
  return `${alg}-${encodedPart(d).slice(0, 64)}`;
}

function refError(message: string, cause?: unknown): PlaitError {
  return new PlaitError(ErrorCodes.E_MANIFEST_INVALID, message, { ...(cause !== undefined && { cause }) });
}

async function getIfPresent(img: ImageSource, ref: string): Promise<ManifestBlob | undefined> {
  try {
    if (!(await img.resolve(ref))) return undefined;
    return await img.getManifest(ref);
  } catch (e) {
    if (isPlaitError(e, ErrorCodes.E_MANIFEST_UNKNOWN) || isPlaitError(e, ErrorCodes.E_NOT_FOUND)) return undefined;
    throw e;
  }
}

function imageManifest(img: ImageSource, m: ManifestBlob, what: string): ImageManifest {
  let parsed;
  try {
    parsed = parseManifest(m.bytes, m.mediaType);
  } catch (e) {
    throw refError(`${img.name}: ${what} is not a valid manifest: ${(e as Error).message}`, e);
  }
  if (parsed.kind !== 'image') throw refError(`${img.name}: ${what} is a list; only image manifests are carried as referrers`);
  return parsed.manifest;
}

/** A tag attachment's artifact type: its layers' media type (cosign writes one kind per tag). */
function attachmentType(m: ImageManifest): string {
  return m.artifactType ?? m.layers[0]?.mediaType ?? m.config.mediaType;
}

function wanted(type: string, opts: ReferrersOptions): boolean {
  return opts.artifactTypes === undefined || opts.artifactTypes.length === 0 || opts.artifactTypes.includes(type);
}

function readsReferrers(img: ImageSource): img is ImageSource & ReferrersReader {
  return typeof (img as Partial<ReferrersReader>).referrers === 'function';
}

async function referrersIndex(img: ImageSource, subject: Digest): Promise<{ index: ManifestBlob | undefined; api: boolean }> {
  if (readsReferrers(img)) return img.referrers(subject);
  return { index: await getIfPresent(img, fallbackTag(subject)), api: false };
}

function parseIndex(img: ImageSource, m: ManifestBlob, what: string): ImageIndex {
  let parsed;
  try {
    parsed = parseManifest(m.bytes, OCI_INDEX);
  } catch (e) {
    throw refError(`${img.name}: ${what} is not an OCI index: ${(e as Error).message}`, e);
  }
  if (parsed.kind !== 'index') throw refError(`${img.name}: ${what} is not an OCI index`);
  return parsed.index;
}

function sameLayer(a: Descriptor, b: Descriptor): boolean {
  const ka = Object.keys(a.annotations ?? {});
  const kb = Object.keys(b.annotations ?? {});
  return a.digest === b.digest && a.mediaType === b.mediaType && a.size === b.size && ka.length === kb.length
    && ka.every((k) => a.annotations?.[k] === b.annotations?.[k]);
}

async function readConfig(img: ImageSource, desc: Descriptor): Promise<Record<string, unknown>> {
  if (desc.size > MAX_SMALL) throw refError(`${img.name}: attachment config ${desc.digest} is over ${MAX_SMALL} bytes`);
  const bytes = await readSmall(await img.getBlob({ digest: desc.digest, size: desc.size }), MAX_SMALL);
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw refError(`${img.name}: attachment config ${desc.digest} is not JSON`, e);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw refError(`${img.name}: attachment config ${desc.digest} is not a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * Put the source's tag attachment at the destination's tag: as it is when the destination has none (same digest), or
 * with the source's missing layers appended to the destination's — cosign and containers/image read every layer, and
 * the config's rootfs.diff_ids follow the layers as they both write them.
 */
async function carryTagAttachment(src: ImageSource, dest: Both, copier: Copier, tag: string, m: ManifestBlob, parsed: ImageManifest): Promise<'written' | 'merged' | 'present'> {
  const there = await getIfPresent(dest, tag);
  if (there?.digest === m.digest) return 'present';
  if (!there) {
    await copier.copyImageManifest(m);
    await dest.putManifest(m.bytes, m.mediaType, tag);
    return 'written';
  }
  const current = imageManifest(dest, there, `attachment ${tag}`);
  const missing = parsed.layers.filter((l) => !current.layers.some((c) => sameLayer(c, l)));
  if (missing.length === 0) return 'present';
  for (const l of missing) await copier.ensureBlob({ digest: l.digest, size: l.size });
  const config = await readConfig(dest, current.config);
  const rootfs = typeof config.rootfs === 'object' && config.rootfs !== null && !Array.isArray(config.rootfs) ? (config.rootfs as Record<string, unknown>) : undefined;
  let configDesc = current.config;
  if (rootfs && Array.isArray(rootfs.diff_ids)) {
    const bytes = goMarshal({ ...config, rootfs: { ...rootfs, diff_ids: [...(rootfs.diff_ids as unknown[]), ...missing.map((l) => l.digest)] } });
    configDesc = { ...current.config, digest: digestOf(bytes), size: bytes.length };
    await dest.putBlob(Readable.from([bytes]), { digest: configDesc.digest, size: bytes.length });
  }
  const merged = serializeOCIManifest({ ...current, mediaType: current.mediaType ?? OCI_MANIFEST, config: configDesc, layers: [...current.layers, ...missing] });
  await dest.putManifest(merged, OCI_MANIFEST, tag);
  return 'merged';
}

/** Add `desc` to the destination's fallback index for `subject` unless it is there already. */
async function addToFallbackIndex(dest: Both, subject: Digest, desc: Descriptor): Promise<void> {
  const tag = fallbackTag(subject);
  const there = await getIfPresent(dest, tag);
  const index: ImageIndex = there ? parseIndex(dest, there, `fallback index ${tag}`) : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  if ((index.manifests ?? []).some((d) => d.digest === desc.digest)) return;
  const bytes = serializeOCIIndex({ ...index, mediaType: OCI_INDEX, manifests: [...(index.manifests ?? []), desc] });
  await dest.putManifest(bytes, OCI_INDEX, tag);
}

/**
 * Carry the referrers of `subject` (an image already written to `dest` under the same digest) from `src` to `dest`.
 * Returns what was carried, in the order found: tag attachments first, then OCI artifacts.
 */
export async function carryReferrers(src: ImageSource, dest: Both, subject: Digest, opts: ReferrersOptions = {}): Promise<CarriedReferrer[]> {
  const out: CarriedReferrer[] = [];
  const copier = new Copier(src, dest, { ...(opts.shared && { shared: opts.shared }) });
  for (const suffix of COSIGN_TAG_SUFFIXES) {
    if (suffix === 'sig' && opts.skipSignatures) continue;
    const tag = cosignTag(subject, suffix);
    const m = await getIfPresent(src, tag);
    if (!m) continue;
    const parsed = imageManifest(src, m, `attachment ${tag}`);
    const type = attachmentType(parsed);
    if (!wanted(type, opts)) continue;
    const outcome = await carryTagAttachment(src, dest, copier, tag, m, parsed);
    out.push({ subject, digest: m.digest, artifactType: type, foundAs: tag, outcome });
  }

  const { index, api } = await referrersIndex(src, subject);
  if (!index) return out;
  const listed = parseIndex(src, index, api ? `the referrers of ${subject}` : `fallback index ${fallbackTag(subject)}`);
  const destApi = readsReferrers(dest);
  let destIndexes: boolean | undefined;
  for (const d of listed.manifests ?? []) {
    const m = await src.getManifest(d.digest); // verified against d.digest
    const parsed = imageManifest(src, m, `referrer ${d.digest} of ${subject}`);
    if (parsed.subject?.digest !== subject) {
      throw refError(`${src.name}: referrer ${d.digest} is listed for ${subject} but its subject is ${parsed.subject?.digest ?? 'missing'}`);
    }
    const type = parsed.artifactType ?? parsed.config.mediaType;
    if (!wanted(type, opts)) continue;
    const present = await dest.resolve(m.digest);
    if (!present) await copier.copyImageManifest(m);
    // Whether the destination indexes subjects itself is asked once: a registry with the API lists it at once.
    destIndexes ??= destApi ? (await dest.referrers(subject)).api : false;
    if (!destIndexes) {
      await addToFallbackIndex(dest, subject, {
        mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, artifactType: type,
        ...(parsed.annotations && { annotations: { ...parsed.annotations } }),
      });
    }
    out.push({ subject, digest: m.digest, artifactType: type, foundAs: api ? 'api' : fallbackTag(subject), outcome: present ? 'present' : 'written' });
  }
  return out;
}
