import { isDigest } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/types.js';
import type { BlobLocation, ImageDestination, ImageSource } from '../../transports/types.js';
import type { Store } from '../store/index.js';
import type { Algorithm } from './detect.js';
import { recompressBlob } from './recompress.js';
import type { RecompressOptions, RecompressResult } from './recompress.js';
import { effectiveLevel } from './streams.js';

// Reproducible variants (§5.8). A Node encoder does not reproduce Go's bytes, and even the same encoder is only
// stable as long as its version and parameters are; a reconciler that recompressed on every run would write a new
// clone manifest (and a new list digest) whenever anything about the encoder moved, and upload every layer again.
// So what a recompression produced is remembered in the store's digest-keyed facts:
//   variant-blob      source layer digest     → { "<alg>:<level>": { digest, size, mediaType, diffId, locations } }
//   variant-manifest  source manifest digest  → { "<alg>:<level>": { digest, size, bytes (base64) } }
// Keyed by the *source* digest, whose content never changes, so an entry never goes stale; it is only replaced when
// the variant is gone everywhere and a new recompression produced different bytes (a changed encoder).

export const VARIANT_BLOB_FACT = 'variant-blob';
export const VARIANT_MANIFEST_FACT = 'variant-manifest';

/** Known places a variant blob was stored, newest first, at most this many (a mount source on a later run). */
const MAX_LOCATIONS = 16;

export interface VariantBlobFact {
  digest: Digest;
  size: number;
  mediaType: string;
  diffId: Digest;
  locations: BlobLocation[];
}

export interface VariantManifestFact {
  digest: Digest;
  size: number;
  /** The manifest bytes, base64. */
  bytes: string;
}

/** The per-source key of a variant: algorithm and effective level (`zstd:3`). */
export function variantKey(algorithm: Algorithm, level?: number): string {
  return `${algorithm}:${effectiveLevel(algorithm, level)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function isLocation(v: unknown): v is BlobLocation {
  return isObject(v) && (v.transport === 'docker' || v.transport === 'oci') && typeof v.host === 'string' && typeof v.repository === 'string';
}

function isBlobFact(v: unknown): v is VariantBlobFact {
  return isObject(v) && isDigest(v.digest) && isSize(v.size) && typeof v.mediaType === 'string' && isDigest(v.diffId)
    && Array.isArray(v.locations) && v.locations.every(isLocation);
}

function isManifestFact(v: unknown): v is VariantManifestFact {
  return isObject(v) && isDigest(v.digest) && isSize(v.size) && typeof v.bytes === 'string';
}

const mapGuard = <T>(entry: (v: unknown) => v is T) => (v: unknown): v is Record<string, T> => isObject(v) && Object.values(v).every(entry);
const isBlobMap = mapGuard(isBlobFact);
const isManifestMap = mapGuard(isManifestFact);

// Read-modify-write of one fact file is serialised per (store, kind, digest) within the process, so two layers or
// two instances sharing a source digest cannot drop each other's entries. Across processes the list lock of the
// caller serialises; a lost update there costs a recompression, never a wrong answer.
const queues = new WeakMap<Store, Map<string, Promise<unknown>>>();

function serialised<T>(store: Store, key: string, fn: () => Promise<T>): Promise<T> {
  let perStore = queues.get(store);
  if (perStore === undefined) {
    perStore = new Map();
    queues.set(store, perStore);
  }
  const prev = perStore.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => undefined);
  perStore.set(key, tail);
  void tail.then(() => {
    if (perStore.get(key) === tail) perStore.delete(key);
  });
  return next;
}

function sameLocation(a: BlobLocation, b: BlobLocation): boolean {
  return a.transport === b.transport && a.host === b.host && a.repository === b.repository;
}

/** The variant facts of one store; without a store every lookup misses and nothing is written. */
export class VariantCache {
  constructor(readonly store: Store | undefined) {}

  async getBlob(source: Digest, key: string): Promise<VariantBlobFact | undefined> {
    if (this.store === undefined) return undefined;
    const all = await this.store.getFact(VARIANT_BLOB_FACT, source, isBlobMap);
    return all?.[key];
  }

  /** Record (or replace) the variant of `source` under `key`; `location` goes first in its locations. */
  async putBlob(source: Digest, key: string, v: Omit<VariantBlobFact, 'locations'>, location?: BlobLocation): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    await serialised(store, `${VARIANT_BLOB_FACT}/${source}`, async () => {
      const all = (await store.getFact(VARIANT_BLOB_FACT, source, isBlobMap)) ?? {};
      const old = all[key];
      // Locations only carry over while the digest is the same: they are where *those* bytes live.
      const kept = old !== undefined && old.digest === v.digest ? old.locations : [];
      const locations = location === undefined ? kept : [location, ...kept.filter((l) => !sameLocation(l, location))];
      const entry: VariantBlobFact = { digest: v.digest, size: v.size, mediaType: v.mediaType, diffId: v.diffId, locations: locations.slice(0, MAX_LOCATIONS) };
      await store.putFact(VARIANT_BLOB_FACT, source, { ...all, [key]: entry });
    });
  }

  async getManifest(source: Digest, key: string): Promise<VariantManifestFact | undefined> {
    if (this.store === undefined) return undefined;
    const all = await this.store.getFact(VARIANT_MANIFEST_FACT, source, isManifestMap);
    return all?.[key];
  }

  async putManifest(source: Digest, key: string, v: VariantManifestFact): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    await serialised(store, `${VARIANT_MANIFEST_FACT}/${source}`, async () => {
      const all = (await store.getFact(VARIANT_MANIFEST_FACT, source, isManifestMap)) ?? {};
      const old = all[key];
      if (old !== undefined && old.digest === v.digest && old.bytes === v.bytes) return;
      await store.putFact(VARIANT_MANIFEST_FACT, source, { ...all, [key]: v });
    });
  }
}

export interface VariantBlobResult extends RecompressResult {
  /**
   * How the variant got to the destination: a cached variant found there or mounted from a known location, produced
   * now, or the layer kept as it is because its bytes already were in the target compression.
   */
  how: 'present' | 'mounted' | 'recompressed' | 'kept';
}

/**
 * The `target` variant of one layer at `dest`, reusing an earlier one whenever possible: the cached variant is used
 * if the destination has it or can mount it from where it was stored before; otherwise the layer is recompressed and
 * the cache updated (a changed digest replaces the entry: the encoder changed and the old bytes are gone).
 */
export async function variantBlobFor(
  src: ImageSource,
  dest: ImageDestination,
  layer: Descriptor,
  target: Algorithm,
  level: number | undefined,
  cache: VariantCache,
  opts: RecompressOptions & { teed?: Promise<RecompressResult> } = {},
): Promise<VariantBlobResult> {
  const key = variantKey(target, level);
  // Made already, from the read that copied the layer here (see tee.ts): only to be recorded.
  const known = opts.teed === undefined ? await cache.getBlob(layer.digest, key) : undefined;
  if (known !== undefined) {
    const desc = { digest: known.digest, size: known.size };
    const result = { digest: known.digest, size: known.size, mediaType: known.mediaType, diffId: known.diffId, recompressed: false };
    opts.signal?.throwIfAborted();
    if (await dest.hasBlob(desc)) {
      if (!known.locations.some((l) => sameLocation(l, dest.location))) await cache.putBlob(layer.digest, key, known, dest.location);
      return { ...result, how: 'present' };
    }
    for (const loc of [...known.locations, src.location]) {
      if (sameLocation(loc, dest.location)) continue;
      if (await dest.mountBlob(desc, loc)) {
        await cache.putBlob(layer.digest, key, known, dest.location);
        return { ...result, how: 'mounted' };
      }
    }
  }
  const made = await (opts.teed ?? recompressBlob(src, dest, layer, target, level, opts));
  if (made.recompressed && made.diffId !== undefined) {
    await cache.putBlob(layer.digest, key, { digest: made.digest, size: made.size, mediaType: made.mediaType, diffId: made.diffId }, dest.location);
    return { ...made, how: 'recompressed' };
  }
  // Kept as it is (already in the target compression): nothing to remember, the source digest is the answer.
  return { ...made, how: 'kept' };
}
