import { PlaitError, ErrorCodes } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { digestOf } from '../oci/digest.js';
import { serializeOCIIndex } from '../oci/gojson.js';
import { parseManifest, parseManifestList } from '../oci/manifest.js';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_MANIFEST } from '../oci/mediatype.js';
import type { Descriptor, ImageIndex } from '../oci/types.js';
import { openImage } from '../transports/index.js';
import type { ImageSource } from '../transports/index.js';
import { readSmall } from '../transports/registry/image.js';
import { indentList, listAsWritten } from '../core/list/push.js';
import type { ManifestBlob } from '../transports/index.js';
import type { Store } from '../core/store/index.js';
import type { ReconcileSpec } from './model.js';

// The store is a cache; the registry is the truth. When no push history says what the destination should hold (a
// fresh --store on a new CI runner), the destination itself is asked: if a tag already serves exactly the list a
// push would write, that list is adopted instead of pushed again. For a plain list the bytes a push writes are known
// without any read (the rebuilt list, converted as the push converts it); a list with compression variants needs its
// clones, whose digests only the store's variant cache knew — so the destination's list is fetched and each clone in
// it accepted only when it is a valid variant of its source instance (same diff_ids, every layer in the variant's
// media type, the zstd mark where it belongs), and then remembered in the variant cache for the pushes to come.
// compression.force rewrites the instances themselves, so their digests too are known only to the variant cache: each
// rewritten instance is accepted when it is the source instance recompressed (see acceptForced).

export interface Adopted {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

interface TagLike { current?: Digest }

/**
 * The bytes a push of `listBytes` would write when no instance is rewritten, or undefined when instances would be
 * (format docker with OCI instances, forced compression): then only a push can tell.
 */
export function predictedListBytes(spec: ReconcileSpec, listBytes: Buffer): { bytes: Buffer; mediaType: string } | undefined {
  if (spec.compression?.force === true) return undefined;
  const { mediaType: storedType, index } = parseManifestList(listBytes);
  const listType = spec.format === 'docker' ? DOCKER_LIST : OCI_INDEX;
  if (spec.format === 'docker' && !spec.keepInstances && (index.manifests ?? []).some((d) => d.mediaType !== DOCKER_MANIFEST)) return undefined;
  return { bytes: indentList(listAsWritten(index, listBytes, storedType, listType), spec.listIndent), mediaType: listType };
}

/** What a destination tag already serves that a push of `listBytes` would write, or undefined. */
export async function adoptDestination(spec: ReconcileSpec, store: Store, listBytes: Buffer, tags: Array<TagLike & { ref: string }>,
  sourceManifest?: (digest: Digest) => Promise<ManifestBlob>): Promise<Adopted | undefined> {
  if (spec.compression?.force === true && (spec.compression.variants ?? []).length > 0 && spec.format !== 'docker' && sourceManifest) {
    return forEachServedList(spec, tags, async (img, bytes) => acceptForced(spec, store, img, listBytes, bytes, sourceManifest));
  }
  const predicted = predictedListBytes(spec, listBytes);
  if (!predicted) return undefined;
  const variants = spec.compression?.variants ?? [];
  if (variants.length === 0) {
    const digest = digestOf(predicted.bytes);
    return tags.some((t) => t.current === digest) ? { digest, mediaType: predicted.mediaType, bytes: predicted.bytes } : undefined;
  }
  return forEachServedList(spec, tags, async (img, bytes) => acceptVariants(spec, store, img, predicted.bytes, bytes, variants));
}

/** Every distinct list the tags serve is a candidate (usually one GET); the first `accept` takes is adopted. */
async function forEachServedList(spec: ReconcileSpec, tags: Array<TagLike & { ref: string }>,
  accept: (img: ImageSource, bytes: Buffer) => Promise<boolean>): Promise<Adopted | undefined> {
  const seen = new Set<string>();
  for (const t of tags) {
    if (!t.current || seen.has(t.current)) continue;
    seen.add(t.current);
    const img = openImage(t.ref, spec.transport, 'destination');
    const got = await img.getManifest(t.current);
    if (got.digest !== t.current) continue;
    if (await accept(img, got.bytes)) return { digest: t.current, mediaType: OCI_INDEX, bytes: got.bytes };
  }
  return undefined;
}

/**
 * compression.force: whether `destBytes` is what a push of `listBytes` writes when ForceCompressionFormat rewrites
 * each instance whose layers are not all in the first variant's algorithm. Entry by entry, in the list's order, the
 * destination holds either the source instance itself (its layers all in that algorithm already) or a rewrite of it:
 * an OCI image with the source's own config (the same diff_ids), as many layers, each in the algorithm's media type,
 * a layer already in it kept as it was. The other variants' clones are then checked as for any list, and the bytes
 * must be exactly the push's. Accepted rewrites are remembered in the variant cache, as the push itself would.
 */
async function acceptForced(spec: ReconcileSpec, store: Store, dest: ImageSource, listBytes: Buffer, destBytes: Buffer,
  sourceManifest: (digest: Digest) => Promise<ManifestBlob>): Promise<boolean> {
  const { variantAlgorithm, compressionOfMediaType, seedVariant } = await variantTools();
  const algorithms = spec.compression?.variants ?? [];
  const force = variantAlgorithm(algorithms[0]!);
  const layerType = force === 'zstd' ? OCI_LAYER_ZSTD : OCI_LAYER_GZIP;
  let destIndex: ImageIndex;
  try {
    ({ index: destIndex } = parseManifestList(destBytes));
  } catch {
    return false;
  }
  const { mediaType: storedType, index } = parseManifestList(listBytes);
  const entries = index.manifests ?? [];
  const served = destIndex.manifests ?? [];
  if (served.length < entries.length) return false;
  const edits = new Map<string, { digest: Digest; size: number; mediaType: string; zstd: boolean }>();
  const seeds: Array<{ source: Digest; manifest: Buffer; digest: Digest; layers: Array<{ source: Descriptor; variant: Descriptor; diffId: string }> }> = [];
  for (const [i, d] of entries.entries()) {
    const e = served[i]!;
    const source = await sourceManifest(d.digest);
    if (source.digest !== d.digest) return false;
    const sp = parseManifest(source.bytes, source.mediaType);
    if (sp.kind !== 'image') return false;
    if (sp.manifest.layers.every((l) => compressionOfMediaType(l.mediaType) === force)) {
      if (e.digest !== d.digest) return false;
      edits.set(d.digest, { digest: d.digest, size: d.size, mediaType: d.mediaType, zstd: force === 'zstd' });
      continue;
    }
    if (e.digest === d.digest || e.mediaType !== OCI_MANIFEST) return false;
    const facts = await imageAt(dest, e.digest);
    if (!facts || facts.manifest.length !== e.size || facts.config.digest !== sp.manifest.config.digest) return false;
    if (facts.layers.length !== sp.manifest.layers.length) return false;
    for (const [j, l] of facts.layers.entries()) {
      const was = sp.manifest.layers[j]!;
      if (l.mediaType !== layerType || (compressionOfMediaType(was.mediaType) === force && l.digest !== was.digest)) return false;
    }
    const ids = await diffIds(dest, facts.config);
    if (!ids || ids.length !== facts.layers.length) return false;
    edits.set(d.digest, { digest: e.digest, size: e.size, mediaType: OCI_MANIFEST, zstd: force === 'zstd' });
    seeds.push({ source: d.digest, manifest: facts.manifest, digest: e.digest, layers: sp.manifest.layers.map((l, j) => ({ source: l, variant: facts.layers[j]!, diffId: ids[j]! })) });
  }
  // The list as the push writes it before its other variants are added.
  const regular = listAsWritten(index, listBytes, storedType, OCI_INDEX, edits);
  const rest = algorithms.slice(1);
  const ok = rest.length > 0
    ? await acceptVariants(spec, store, dest, regular, destBytes, rest)
    : indentList(regular, spec.listIndent).equals(destBytes);
  if (!ok) return false;
  for (const s of seeds) await seedVariant(store, force, spec.compression?.level, { ...s, location: dest.location });
  return true;
}

interface ImageFacts { manifest: Buffer; layers: Descriptor[]; config: Descriptor; mediaType: string }

async function imageAt(img: ImageSource, digest: Digest): Promise<ImageFacts | undefined> {
  const m = await img.getManifest(digest);
  if (m.digest !== digest) return undefined;
  const parsed = parseManifest(m.bytes, m.mediaType);
  if (parsed.kind !== 'image') return undefined;
  return { manifest: m.bytes, layers: parsed.manifest.layers, config: parsed.manifest.config, mediaType: parsed.mediaType };
}

async function diffIds(img: ImageSource, config: Descriptor): Promise<string[] | undefined> {
  const raw = await readSmall(await img.getBlob({ digest: config.digest, size: config.size }));
  try {
    const c = JSON.parse(raw.toString('utf8')) as { rootfs?: { diff_ids?: unknown } };
    const ids = c.rootfs?.diff_ids;
    return Array.isArray(ids) && ids.every((x): x is string => typeof x === 'string') ? ids : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `destBytes` is `regularBytes` with exactly the clones a push would add, each a valid variant of its source
 * instance; when it is, the clones are recorded in the store's variant cache so later pushes reuse them.
 */
async function acceptVariants(spec: ReconcileSpec, store: Store, dest: ImageSource, regularBytes: Buffer, destBytes: Buffer,
  algorithms: readonly string[]): Promise<boolean> {
  const { makeVariantPlan, seedVariant } = await variantTools();
  let destIndex: ImageIndex;
  try {
    ({ index: destIndex } = parseManifestList(destBytes));
  } catch {
    return false;
  }
  const { mediaType, index } = parseManifestList(regularBytes);
  const plan = makeVariantPlan(index, algorithms, mediaType);
  const regular = new Set((index.manifests ?? []).map((d) => d.digest as string));
  const extra = (destIndex.manifests ?? []).filter((d) => !regular.has(d.digest));
  if (extra.length !== plan.length) return false;
  const samePlatform = (a: Descriptor, b: Descriptor) => JSON.stringify(a.platform ?? null) === JSON.stringify(b.platform ?? null)
    || (a.platform !== undefined && b.platform !== undefined && a.platform.os === b.platform.os && a.platform.architecture === b.platform.architecture
      && (a.platform.variant ?? '') === (b.platform.variant ?? '') && (a.platform['os.version'] ?? '') === (b.platform['os.version'] ?? ''));
  const used = new Set<string>();
  const clones: Array<{ source: Descriptor; algorithm: 'gzip' | 'zstd'; digest: Digest; size: number; facts: ImageFacts; diffIds: string[]; sourceFacts: ImageFacts }> = [];
  for (const p of plan) {
    const zstd = p.algorithm === 'zstd';
    const d = extra.find((e) => !used.has(e.digest) && samePlatform(e, p.source) && (e.annotations?.['io.github.containers.compression.zstd'] === 'true') === zstd);
    if (!d || d.mediaType !== OCI_MANIFEST) return false;
    used.add(d.digest);
    const facts = await imageAt(dest, d.digest);
    const sourceFacts = await imageAt(dest, p.source.digest);
    if (!facts || !sourceFacts || facts.manifest.length !== d.size) return false;
    const layerType = zstd ? OCI_LAYER_ZSTD : OCI_LAYER_GZIP;
    if (facts.layers.length !== sourceFacts.layers.length || !facts.layers.every((l) => l.mediaType === layerType)) return false;
    const [ids, sourceIds] = await Promise.all([diffIds(dest, facts.config), diffIds(dest, sourceFacts.config)]);
    if (!ids || !sourceIds || ids.length !== facts.layers.length || JSON.stringify(ids) !== JSON.stringify(sourceIds)) return false;
    clones.push({ source: p.source, algorithm: p.algorithm, digest: d.digest, size: d.size, facts, diffIds: ids, sourceFacts });
  }
  // The exact bytes a push with these clones would write: anything else (order, annotations) is drift.
  const { applyVariantsToIndex } = await import('../core/compression/variants.js');
  const expected = serializeOCIIndex(applyVariantsToIndex(index, clones.map((c) => ({ source: c.source, algorithm: c.algorithm, digest: c.digest, size: c.size }))));
  if (!indentList(expected, spec.listIndent).equals(destBytes)) return false;
  for (const c of clones) {
    await seedVariant(store, c.algorithm, spec.compression?.level, {
      source: c.source.digest, manifest: c.facts.manifest, digest: c.digest,
      layers: c.facts.layers.map((l, i) => ({ source: c.sourceFacts.layers[i]!, variant: l, diffId: c.diffIds[i]! })),
      location: dest.location,
    });
  }
  return true;
}

async function variantTools() {
  const { planVariants, variantAlgorithm } = await import('../core/compression/variants.js');
  const { compressionOfMediaType } = await import('../core/compression/detect.js');
  const { VariantCache, variantKey } = await import('../core/compression/cache.js');
  return {
    variantAlgorithm,
    compressionOfMediaType,
    makeVariantPlan: (index: ImageIndex, algorithms: readonly string[], mediaType: string) => planVariants(index, algorithms, { mediaType }),
    seedVariant: async (store: Store, algorithm: 'gzip' | 'zstd', level: number | undefined, v: {
      source: Digest; manifest: Buffer; digest: Digest; location: ImageSource['location'];
      layers: Array<{ source: Descriptor; variant: Descriptor; diffId: string }>;
    }): Promise<void> => {
      const cache = new VariantCache(store);
      const key = variantKey(algorithm, level);
      for (const l of v.layers) {
        if (l.source.digest === l.variant.digest) continue;
        await cache.putBlob(l.source.digest, key, { digest: l.variant.digest, size: l.variant.size, mediaType: l.variant.mediaType, diffId: l.diffId as Digest }, v.location);
      }
      await cache.putManifest(v.source, key, { digest: v.digest, size: v.manifest.length, bytes: v.manifest.toString('base64') });
    },
  };
}

/** A tag whose list cannot be read is simply not adopted; any other failure is real. */
export function notAdoptable(e: unknown): boolean {
  return e instanceof PlaitError && (e.code === ErrorCodes.E_MANIFEST_UNKNOWN || e.code === ErrorCodes.E_NOT_FOUND || e.code === ErrorCodes.E_MANIFEST_INVALID || e.code === ErrorCodes.E_UNSUPPORTED);
}
