import { Readable } from 'node:stream';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { digestOf, isDigest } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import { serializeOCIIndex, serializeOCIManifest } from '../../oci/gojson.js';
import { parseManifest, parseManifestList } from '../../oci/manifest.js';
import {
  ANNOTATION_ZSTD_INSTANCE, DOCKER_CONFIG, DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST,
} from '../../oci/mediatype.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from '../../oci/types.js';
import { readSmall } from '../../transports/registry/image.js';
import { Semaphore } from '../../transports/registry/semaphore.js';
import type { ImageDestination, ImageSource, ManifestBlob } from '../../transports/types.js';
import { ociConfigBytes } from '../copy/convert.js';
import { Copier } from '../copy/copy.js';
import type { CopyProgress } from '../copy/copy.js';
import type { Store } from '../store/index.js';
import { VariantCache, variantBlobFor, variantKey } from './cache.js';
import type { VariantBlobResult } from './cache.js';
import { compressionOfMediaType, isNonDistributable, ociLayerMediaTypeFor } from './detect.js';
import type { Algorithm } from './detect.js';
import { ensureBlobPresent } from './recompress.js';
import type { VariantTee } from './tee.js';
import { effectiveLevel } from './streams.js';

// Compression variants of list instances (containers/image EnsureCompressionVariantsExist, §5): which instances get
// a clone (planVariants, §5.2), how one clone is made (makeVariant, §5.3: every layer in the wanted compression, an
// OCI image manifest PUT by digest) and how the list records it (applyVariantsToIndex, §5.4).

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

// ---- algorithm names -------------------------------------------------------------------------------------------

/**
 * The algorithm a requested name stands for. Names are matched exactly, as containers/image's AlgorithmByName does.
 * zstd:chunked needs the chunked TOC and tar-split frames of containers/storage, which plait does not write (§5.7);
 * bzip2 and Xz are names containers/image knows but no manifest type can carry, so a clone could never be written.
 */
export function variantAlgorithm(name: string): Algorithm {
  if (name === 'gzip' || name === 'zstd') return name;
  if (name === 'zstd:chunked') {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, 'zstd:chunked is not supported; request zstd for a zstd variant', { details: { algorithm: name } });
  }
  if (name === 'bzip2' || name === 'Xz') {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `requested algorithm ${name} is not supported for replication: no manifest type can carry ${name} layers`, {
      details: { algorithm: name },
    });
  }
  throw new PlaitError(ErrorCodes.E_INVALID, `requested algorithm ${name} is not supported for replication`, { details: { algorithm: name } });
}

// ---- planning (§5.2) -------------------------------------------------------------------------------------------

export interface VariantPlan {
  /** The list entry the clone is made from: the first image instance of its platform. */
  source: Descriptor;
  /** Its position in the list. */
  position: number;
  algorithm: Algorithm;
}

export interface PlanOptions {
  /** The list's media type, when the parsed index does not carry its own `mediaType` field. */
  mediaType?: string;
  /**
   * Whether an instance is an image that can be cloned. Entries with an artifactType or a media type that is not
   * an image manifest are never images; pass this to also exclude instances whose manifest turned out to be an
   * artifact (a non-image config). Excluded instances get no clone and do not count for their platform's set.
   */
  isImage?: (d: Descriptor) => boolean;
}

// containers/image compares platforms on these fields, os.features sorted; a missing platform is the empty one.
function platformKey(p: Platform | undefined): string {
  return JSON.stringify([p?.architecture ?? '', p?.os ?? '', p?.['os.version'] ?? '', p?.variant ?? '', [...(p?.['os.features'] ?? [])].sort().join(',')]);
}

function isImageEntry(d: Descriptor): boolean {
  return d.artifactType === undefined && (d.mediaType === OCI_MANIFEST || d.mediaType === DOCKER_MANIFEST);
}

/**
 * The clones EnsureCompressionVariantsExist would make for `requested` algorithm names: per platform, the set of
 * compressions present (an OCI entry annotated zstd counts as zstd, every other entry — all of a Docker list — as
 * gzip); walking the list in order, an instance gets a clone for each requested algorithm its platform lacks, which
 * is then added to the set, so every platform gets at most one clone per algorithm, made from its first instance.
 * All names are checked before anything is planned.
 */
export function planVariants(index: ImageIndex, requested: readonly string[], opts: PlanOptions = {}): VariantPlan[] {
  const algorithms = requested.map(variantAlgorithm);
  const docker = (opts.mediaType ?? index.mediaType) === DOCKER_LIST;
  const entries = index.manifests ?? [];
  const eligible = (d: Descriptor) => isImageEntry(d) && (opts.isImage?.(d) ?? true);
  const sets = new Map<string, Set<Algorithm>>();
  for (const d of entries) {
    if (!eligible(d)) continue;
    const key = platformKey(d.platform);
    const set = sets.get(key) ?? new Set<Algorithm>();
    set.add(!docker && d.annotations?.[ANNOTATION_ZSTD_INSTANCE] === 'true' ? 'zstd' : 'gzip');
    sets.set(key, set);
  }
  const plan: VariantPlan[] = [];
  entries.forEach((d, position) => {
    if (!eligible(d)) return;
    const set = sets.get(platformKey(d.platform));
    if (set === undefined) return;
    for (const algorithm of algorithms) {
      if (set.has(algorithm)) continue;
      plan.push({ source: d, position, algorithm });
      set.add(algorithm);
    }
  });
  return plan;
}

// ---- recording in the list (§5.4) ------------------------------------------------------------------------------

export interface AppliedVariant {
  source: Descriptor;
  algorithm: Algorithm;
  digest: Digest;
  size: number;
  /** Default: an OCI image manifest (what makeVariant writes). */
  mediaType?: string;
}

function isZstdEntry(d: Descriptor): boolean {
  return d.annotations?.[ANNOTATION_ZSTD_INSTANCE] === 'true';
}

function copyPlatform(p: Platform): Platform {
  // `features` is a Docker-list field an OCI index cannot carry.
  const out: Platform = { architecture: p.architecture, os: p.os };
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined) out['os.features'] = [...p['os.features']];
  if (p.variant !== undefined) out.variant = p.variant;
  return out;
}

/**
 * The list with the clones appended — platform and annotations of the source entry, plus the zstd annotation for a
 * zstd clone — and then, only if something was appended, stable-sorted so that zstd-annotated entries come last:
 * consumers that ignore the annotation (containers/image ≤ 5.24, every Debian peer) take the first platform match
 * and so keep getting gzip.
 *
 * One deliberate difference from containers/image: a gzip clone made from a zstd-annotated instance does not inherit
 * that annotation (containers/image copies it, a known TODO there), since it would send zstd-preferring consumers to
 * a gzip image and sort it among the zstd entries.
 *
 * The result names OCI_INDEX as its type: the annotation only exists in an OCI index, so the list must be written
 * as one (serializeOCIIndex) — a Docker list cannot tell its zstd entries apart (§5.4).
 */
export function applyVariantsToIndex(index: ImageIndex, clones: readonly AppliedVariant[]): ImageIndex {
  if (clones.length === 0) return { ...index, manifests: index.manifests === null ? null : [...index.manifests] };
  const added = clones.map((c): Descriptor => {
    const annotations: Record<string, string> = { ...(c.source.annotations ?? {}) };
    if (c.algorithm === 'zstd') annotations[ANNOTATION_ZSTD_INSTANCE] = 'true';
    else delete annotations[ANNOTATION_ZSTD_INSTANCE];
    return {
      mediaType: c.mediaType ?? OCI_MANIFEST,
      digest: c.digest,
      size: c.size,
      ...(c.source.platform !== undefined && { platform: copyPlatform(c.source.platform) }),
      ...(Object.keys(annotations).length > 0 && { annotations }),
    };
  });
  const all = [...(index.manifests ?? []), ...added];
  // Array.prototype.sort is stable (ES2019), so each group keeps its order.
  const sorted = all.map((d, i) => ({ d, i, z: isZstdEntry(d) ? 1 : 0 })).sort((a, b) => a.z - b.z || a.i - b.i).map((x) => x.d);
  return { ...index, mediaType: OCI_INDEX, manifests: sorted };
}

// ---- making one clone (§5.3) -----------------------------------------------------------------------------------

/** Whether a manifest is an image a variant can be made of: an image manifest, no artifactType, an image config. */
export function isImageInstance(m: ManifestBlob): boolean {
  let parsed;
  try {
    parsed = parseManifest(m.bytes, m.mediaType);
  } catch {
    return false;
  }
  if (parsed.kind !== 'image') return false;
  const { manifest } = parsed;
  return manifest.artifactType === undefined && (manifest.config.mediaType === OCI_CONFIG || manifest.config.mediaType === DOCKER_CONFIG);
}

export interface MakeVariantOptions {
  src: ImageSource;
  dest: ImageDestination;
  /** The instance to clone, as fetched (exact bytes, type, digest). */
  instanceManifest: ManifestBlob;
  algorithm: Algorithm;
  level?: number;
  /** Where earlier variants are remembered (§5.8); without one every run recompresses. */
  store?: Store;
  /** Layers worked on at once (default 4). */
  jobs?: number;
  /** zstd worker threads per layer (default streams.defaultZstdWorkers()). */
  workers?: number;
  /** A semaphore shared with other makeVariant calls, so `jobs` bounds them all (makeListVariants uses it). */
  semaphore?: Semaphore;
  signal?: AbortSignal;
  /** Byte-level progress: each layer's size as `total`, then `bytes` as it is recompressed or made present. */
  onProgress?: (p: CopyProgress) => void;
  /** Variants already made while the layers were copied to `dest` (they are used, and recorded in the store). */
  tee?: VariantTee;
}

export interface VariantLayer {
  /** The source layer's digest. */
  source: Digest;
  digest: Digest;
  /** kept: already in the algorithm; foreign: non-distributable with URLs, never copied; else see VariantBlobResult. */
  how: VariantBlobResult['how'] | 'foreign';
}

export interface VariantManifest {
  digest: Digest;
  size: number;
  /** An OCI image manifest when made here; an origin already in the algorithm keeps its own type. */
  mediaType: string;
  bytes: Buffer;
  layers: VariantLayer[];
  /** True when the manifest was already at the destination as remembered in the store: nothing was done at all. */
  cached: boolean;
}

function diffIdsOf(config: Buffer): string[] | undefined {
  try {
    const c = JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } };
    const ids = c.rootfs?.diff_ids;
    return Array.isArray(ids) && ids.every((x): x is string => typeof x === 'string') ? ids : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Make the `algorithm` clone of one image instance at `dest` and return its manifest: every layer recompressed (or
 * reused from an earlier run, or kept when already in `algorithm`), recompressed layers without their annotations
 * (they described the old bytes, as containers/image drops them), the config unchanged — except for a Docker v2s2
 * source, which becomes OCI (zstd needs an OCI manifest) with its config re-encoded as an OCI config and uploaded.
 * The clone is an OCI image manifest PUT by digest (no tag). Every recompressed layer's diffID is checked against the
 * config, so a clone can never describe a different filesystem than its source.
 */
export async function makeVariant(opts: MakeVariantOptions): Promise<VariantManifest> {
  const { src, dest, instanceManifest: im, algorithm } = opts;
  const subject = `${src.name}@${im.digest}`;
  const parsed = parseManifest(im.bytes, im.mediaType);
  if (parsed.kind !== 'image') {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${subject}: a compression variant can only be made of an image, not of a list`);
  }
  const m = parsed.manifest;
  if (!isImageInstance(im)) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${subject}: is an artifact (${m.artifactType ?? `config ${m.config.mediaType}`}); compression variants are only made of images`);
  }
  const level = effectiveLevel(algorithm, opts.level);
  const key = variantKey(algorithm, level);
  const cache = new VariantCache(opts.store);

  // Remembered and still there: nothing to do, not even a layer HEAD.
  const remembered = await cache.getManifest(im.digest, key);
  if (remembered !== undefined) {
    const bytes = Buffer.from(remembered.bytes, 'base64');
    if (digestOf(bytes) === remembered.digest && (await dest.resolve(remembered.digest)) !== undefined) {
      const clone = parseManifest(bytes, OCI_MANIFEST);
      const layers = clone.kind === 'image' ? clone.manifest.layers : [];
      opts.onProgress?.({ kind: 'manifest-skipped', digest: remembered.digest, bytes: 0 });
      return {
        digest: remembered.digest, size: bytes.length, mediaType: OCI_MANIFEST, bytes, cached: true,
        layers: m.layers.map((l, i) => ({ source: l.digest, digest: layers[i]?.digest ?? l.digest, how: 'present' as const })),
      };
    }
  }

  const sem = opts.semaphore ?? new Semaphore(opts.jobs ?? 4);
  const abort = new AbortController();
  const stopOnOuter = () => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', stopOnOuter, { once: true });
  try {
    // The config: a Docker one is re-encoded (new digest) and uploaded; an OCI one is made present as it is. Its
    // bytes are read only when needed (conversion, or checking the diffIDs of freshly recompressed layers).
    let configBytes: Promise<Buffer> | undefined;
    const readConfig = () => (configBytes ??= src.getBlob({ digest: m.config.digest, size: m.config.size }).then((s) => readSmall(s)));
    let config: Descriptor;
    if (parsed.mediaType === DOCKER_MANIFEST) {
      const oci = ociConfigBytes(await readConfig(), subject);
      config = { mediaType: OCI_CONFIG, digest: digestOf(oci), size: oci.length };
      if (!(await dest.hasBlob(config))) await dest.putBlob(Readable.from([oci]), { digest: config.digest, size: config.size });
    } else {
      config = m.config;
      await ensureBlobPresent(src, dest, { digest: config.digest, size: config.size }, [src.location], abort.signal);
    }

    const results: LayerOutcome[] = new Array<LayerOutcome>(m.layers.length);
    let firstError: Error | undefined;
    await Promise.all(m.layers.map(async (l, i) => {
      const release = await sem.acquire();
      try {
        abort.signal.throwIfAborted();
        opts.onProgress?.({ kind: 'total', digest: l.digest, bytes: l.size });
        results[i] = await variantLayer(opts, l, level, cache, abort.signal);
      } catch (e) {
        // The first failure stops the other transfers; that failure, not their "stopped", is what is reported.
        if (firstError === undefined) {
          firstError = toError(e);
          abort.abort(firstError);
        }
      } finally {
        release();
      }
    }));
    if (firstError !== undefined) throw firstError;

    // Checked whenever the config is at hand anyway (a Docker source) or a layer was freshly recompressed.
    if (configBytes !== undefined || results.some((r) => r.info.how === 'recompressed')) {
      const ids = diffIdsOf(await readConfig());
      if (ids !== undefined && ids.length === m.layers.length) {
        results.forEach((r, i) => {
          const diffId = r.diffId;
          if (diffId !== undefined && ids[i] !== diffId) {
            throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${subject}: layer ${i} (${m.layers[i]!.digest}) decompresses to ${diffId}, but the config says ${ids[i]}`);
          }
        });
      }
    }

    const clone: ImageManifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: results.map((r) => r.layer),
      ...(m.subject !== undefined && { subject: m.subject }),
      ...(m.annotations !== undefined && { annotations: m.annotations }),
    };
    const bytes = serializeOCIManifest(clone);
    const digest = digestOf(bytes);
    if ((await dest.resolve(digest)) === undefined) {
      const written = await dest.putManifest(bytes, OCI_MANIFEST);
      if (written !== digest) {
        throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${dest.name}: stored the variant of ${im.digest} as ${written}, expected ${digest}`);
      }
      opts.onProgress?.({ kind: 'manifest-written', digest, bytes: bytes.length });
    } else {
      opts.onProgress?.({ kind: 'manifest-skipped', digest, bytes: 0 });
    }
    await cache.putManifest(im.digest, key, { digest, size: bytes.length, bytes: bytes.toString('base64') });
    return { digest, size: bytes.length, mediaType: OCI_MANIFEST, bytes, layers: results.map((r) => r.info), cached: false };
  } finally {
    opts.signal?.removeEventListener('abort', stopOnOuter);
  }
}

interface LayerOutcome {
  layer: Descriptor;
  info: VariantLayer;
  diffId?: Digest;
}

async function variantLayer(
  opts: MakeVariantOptions,
  l: Descriptor,
  level: number,
  cache: VariantCache,
  signal: AbortSignal,
): Promise<LayerOutcome> {
  const { src, dest, algorithm } = opts;
  const current = compressionOfMediaType(l.mediaType);
  if (current === undefined) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${src.name}: layer ${l.digest} has type ${l.mediaType}, which is not a layer type plait can recompress`);
  }
  // Foreign / non-distributable layers with URLs are not copied by containers/image either: they stay as they are.
  if (isNonDistributable(l.mediaType) && (l.urls?.length ?? 0) > 0) {
    return { layer: { ...l, mediaType: ociLayerMediaTypeFor(l.mediaType, current) }, info: { source: l.digest, digest: l.digest, how: 'foreign' } };
  }
  if (current === algorithm) {
    await ensureBlobPresent(src, dest, { digest: l.digest, size: l.size }, [src.location], signal);
    opts.onProgress?.({ kind: 'bytes', digest: l.digest, bytes: l.size });
    return { layer: { ...l, mediaType: ociLayerMediaTypeFor(l.mediaType, current) }, info: { source: l.digest, digest: l.digest, how: 'kept' } };
  }
  let ticked = 0;
  const report = opts.onProgress;
  const teed = opts.tee?.result(l.digest, variantKey(algorithm, level));
  const v = await variantBlobFor(src, dest, l, algorithm, level, cache, {
    signal, ...(opts.workers !== undefined && { workers: opts.workers }), ...(teed !== undefined && { teed }),
    ...(report && { onBytes: (n: number) => {
      ticked += n;
      report({ kind: 'bytes', digest: l.digest, bytes: n });
    } }),
  });
  // However the layer was made present, all of it is done now.
  if (l.size > ticked) report?.({ kind: 'bytes', digest: l.digest, bytes: l.size - ticked });
  // A layer kept because its bytes already were `algorithm` keeps its annotations; new bytes get none.
  const layer: Descriptor = v.how === 'kept' ? { ...l, mediaType: v.mediaType } : { mediaType: v.mediaType, digest: v.digest, size: v.size };
  return { layer, info: { source: l.digest, digest: v.digest, how: v.how }, ...(v.diffId !== undefined && { diffId: v.diffId }) };
}

function allLayersIn(m: ManifestBlob, algorithm: Algorithm): boolean {
  const parsed = parseManifest(m.bytes, m.mediaType);
  return parsed.kind === 'image' && parsed.manifest.layers.length > 0
    && parsed.manifest.layers.every((l) => compressionOfMediaType(l.mediaType) === algorithm);
}

// ---- a whole list ----------------------------------------------------------------------------------------------

export interface ListVariantsOptions {
  src: ImageSource;
  dest: ImageDestination;
  /** The list as fetched from `src`. */
  list: ManifestBlob;
  /** Requested algorithm names (AddCompression), e.g. ["zstd"]. */
  algorithms: readonly string[];
  level?: number;
  store?: Store;
  jobs?: number;
  workers?: number;
  /**
   * Where the clone of a list entry is made from when not from that entry at `src`: an instance that
   * ForceCompressionFormat rewrote is cloned from the instance as it was (containers/image clones the source
   * instance). An origin whose layers all are in the wanted algorithm already is the variant itself, pushed as it is.
   */
  originOf?: (entry: Descriptor) => VariantOrigin | undefined;
  onProgress?: (p: CopyProgress) => void;
  /** Variants made while the list's layers were copied to `dest` (see tee.ts). */
  tee?: VariantTee;
}

export interface VariantOrigin {
  src: ImageSource;
  /** Its manifest, exact bytes as stored. */
  manifest: ManifestBlob;
}

export interface ListVariantsResult {
  /** The list with the clones recorded (an OCI index; write it with serializeOCIIndex — `bytes` is exactly that). */
  index: ImageIndex;
  bytes: Buffer;
  digest: Digest;
  clones: Array<VariantPlan & { manifest: VariantManifest }>;
  /** Instances left out because their manifest is not an image (artifact, non-image config). */
  skipped: Digest[];
}

/**
 * Every clone a list needs for `algorithms`, made at `dest` (instance manifests by digest), and the list bytes that
 * record them. The list itself is not written: its other instances must be at the destination first (a registry
 * that validates references refuses it otherwise), which is the caller's copy.
 */
export async function makeListVariants(opts: ListVariantsOptions): Promise<ListVariantsResult> {
  const { src, list } = opts;
  const { mediaType, index } = parseManifestList(list.bytes, list.mediaType);
  const manifests = new Map<string, VariantOrigin>();
  const notImages = new Set<string>();
  let plan = planVariants(index, opts.algorithms, { mediaType });
  // Planning needs to know which planned sources are really images; a source that is not is excluded and the plan
  // redone, so the platform's next image instance becomes the source. Each round excludes at least one entry.
  for (;;) {
    const unknown = plan.filter((p) => !manifests.has(p.source.digest));
    for (const p of unknown) {
      let origin = opts.originOf?.(p.source);
      if (origin === undefined) {
        const got = await src.getManifest(p.source.digest);
        if (got.digest !== p.source.digest || got.bytes.length !== p.source.size) {
          throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${src.name}: list entry ${p.source.digest} (${p.source.size} bytes) does not match the manifest fetched (${got.digest}, ${got.bytes.length} bytes)`);
        }
        origin = { src, manifest: got };
      }
      manifests.set(p.source.digest, origin);
      if (!isImageInstance(origin.manifest)) notImages.add(p.source.digest);
    }
    if (!plan.some((p) => notImages.has(p.source.digest))) break;
    plan = planVariants(index, opts.algorithms, { mediaType, isImage: (d) => !notImages.has(d.digest) });
  }

  const sem = new Semaphore(opts.jobs ?? 4);
  const abort = new AbortController();
  let firstError: Error | undefined;
  const made = await Promise.all(plan.map(async (p) => {
    try {
      const origin = manifests.get(p.source.digest)!;
      if (origin.src !== src && allLayersIn(origin.manifest, p.algorithm)) {
        await new Copier(origin.src, opts.dest, { jobs: opts.jobs ?? 4, ...(opts.onProgress && { onProgress: opts.onProgress }) }).copyImageManifest(origin.manifest);
        const m = origin.manifest;
        return { ...p, manifest: { digest: m.digest, size: m.bytes.length, mediaType: m.mediaType, bytes: m.bytes, layers: [], cached: false } };
      }
      const manifest = await makeVariant({
        src: origin.src, dest: opts.dest, instanceManifest: origin.manifest, algorithm: p.algorithm, semaphore: sem, signal: abort.signal,
        ...(opts.level !== undefined && { level: opts.level }),
        ...(opts.store !== undefined && { store: opts.store }),
        ...(opts.workers !== undefined && { workers: opts.workers }),
        ...(opts.onProgress && { onProgress: opts.onProgress }),
        ...(opts.tee && { tee: opts.tee }),
      });
      return { ...p, manifest };
    } catch (e) {
      if (firstError === undefined) {
        firstError = toError(e);
        abort.abort(firstError);
      }
      return undefined;
    }
  }));
  if (firstError !== undefined) throw firstError;
  const clones = made.filter((c): c is NonNullable<typeof c> => c !== undefined);
  const out = applyVariantsToIndex(index, clones.map((c) => ({ source: c.source, algorithm: c.algorithm, digest: c.manifest.digest, size: c.manifest.size, mediaType: c.manifest.mediaType })));
  const bytes = serializeOCIIndex(out);
  const skipped = [...notImages].filter((d): d is Digest => isDigest(d));
  return { index: out, bytes, digest: digestOf(bytes), clones, skipped };
}
