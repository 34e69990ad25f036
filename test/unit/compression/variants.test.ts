import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'zstd-napi';
import { VARIANT_BLOB_FACT, VARIANT_MANIFEST_FACT, VariantCache, variantKey } from '../../../src/core/compression/cache.js';
import { makeListVariants, makeVariant } from '../../../src/core/compression/variants.js';
import { ociConfigBytes } from '../../../src/core/copy/convert.js';
import { Store } from '../../../src/core/store/index.js';
import type { PlaitError } from '../../../src/errors.js';
import { digestOf } from '../../../src/oci/digest.js';
import type { Digest } from '../../../src/oci/digest.js';
import { serializeOCIIndex, serializeOCIManifest } from '../../../src/oci/gojson.js';
import { parseManifest } from '../../../src/oci/manifest.js';
import {
  ANNOTATION_ZSTD_INSTANCE, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_MANIFEST,
} from '../../../src/oci/mediatype.js';
import type { ImageManifest } from '../../../src/oci/types.js';
import { collect, dataStream, MiB, putImage, sha } from './data.js';
import { MemoryRegistry } from './memory-transport.js';
import type { MemoryRepo } from './memory-transport.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function newStore(): Promise<Store> {
  const d = await mkdtemp(join(tmpdir(), 'plait-variants-test-'));
  dirs.push(d);
  return Store.open(d);
}

const tars = (seed: string, n = 2, size = MiB) => Promise.all(Array.from({ length: n }, (_, i) => collect(dataStream('semi', size + i * 1000, `${seed}-${i}`))));

function manifestOf(repo: MemoryRepo, digest: string): ImageManifest {
  const m = repo.manifests.get(digest);
  if (m === undefined) throw new Error(`no manifest ${digest} in ${repo.name}`);
  const p = parseManifest(m.bytes, m.mediaType);
  if (p.kind !== 'image') throw new Error('not an image');
  return p.manifest;
}

describe('makeVariant', () => {
  it('OCI gzip image → zstd clone: layers recompressed without annotations, config and manifest annotations kept', async () => {
    const reg = new MemoryRegistry();
    const src = reg.repo('lab/app');
    const dest = reg.repo('lab/variants');
    const img = putImage(src, await tars('oci'), { annotations: { 'org.example': 'yes' }, layerAnnotations: { 'org.example.layer': 'old bytes' } });
    const v = await makeVariant({ src, dest, instanceManifest: img.manifest, algorithm: 'zstd' });
    expect(v.mediaType).toBe(OCI_MANIFEST);
    expect(v.cached).toBe(false);
    expect(v.digest).toBe(digestOf(v.bytes));
    const m = manifestOf(dest, v.digest);
    expect(m.config).toEqual(manifestOf(src, img.manifest.digest).config);
    expect(m.annotations).toEqual({ 'org.example': 'yes' });
    expect(m.layers).toHaveLength(2);
    m.layers.forEach((l, i) => {
      expect(l).toEqual({ mediaType: OCI_LAYER_ZSTD, digest: l.digest, size: l.size });
      expect(sha(zstdDecompress(dest.blobBytes(l.digest)))).toBe(sha(img.tars[i]!));
    });
    expect(v.layers.map((l) => l.how)).toEqual(['recompressed', 'recompressed']);
    // The config came by mount (same registry), the manifest is stored by digest only.
    expect(dest.counts.mount).toBe(1);
    expect(dest.tags.size).toBe(0);
    expect(v.bytes.equals(serializeOCIManifest(m))).toBe(true);
  });

  it('layers already in the target are kept with their annotations; uncompressed ones are compressed', async () => {
    const reg = new MemoryRegistry();
    const src = reg.repo('lab/app');
    const dest = reg.repo('lab/mixed');
    const img = putImage(src, await tars('mixed', 3), { compression: ['zstd', 'none', 'gzip'], layerAnnotations: { keep: 'me' } });
    const v = await makeVariant({ src, dest, instanceManifest: img.manifest, algorithm: 'zstd', level: 5 });
    const m = manifestOf(dest, v.digest);
    expect(v.layers.map((l) => l.how)).toEqual(['kept', 'recompressed', 'recompressed']);
    expect(m.layers[0]).toEqual(img.layers[0]);
    expect(m.layers[1]!.mediaType).toBe(OCI_LAYER_ZSTD);
    expect(m.layers[1]!.annotations).toBeUndefined();
    expect(zstdDecompress(dest.blobBytes(m.layers[1]!.digest)).equals(img.tars[1]!)).toBe(true);
    // And back: a gzip variant of that zstd clone.
    const back = await makeVariant({ src: dest, dest: reg.repo('lab/back'), instanceManifest: { bytes: v.bytes, mediaType: OCI_MANIFEST, digest: v.digest }, algorithm: 'gzip' });
    const b = manifestOf(reg.repo('lab/back'), back.digest);
    expect(b.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER_GZIP, OCI_LAYER_GZIP, OCI_LAYER_GZIP]);
    b.layers.forEach((l, i) => expect(sha(gunzipSync(reg.repo('lab/back').blobBytes(l.digest)))).toBe(sha(img.tars[i]!)));
    expect(img.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER_ZSTD, OCI_LAYER, OCI_LAYER_GZIP]);
  });

  it('a Docker v2s2 source becomes an OCI clone with its config re-encoded (ociConfigBytes) and uploaded', async () => {
    const reg = new MemoryRegistry();
    const src = reg.repo('lab/docker');
    const dest = reg.repo('lab/docker-zstd');
    const img = putImage(src, await tars('docker'), { docker: true });
    const v = await makeVariant({ src, dest, instanceManifest: img.manifest, algorithm: 'zstd' });
    const m = manifestOf(dest, v.digest);
    const cfg = ociConfigBytes(img.config, 'test');
    expect(m.config).toEqual({ mediaType: OCI_CONFIG, digest: digestOf(cfg), size: cfg.length });
    expect(dest.blobBytes(m.config.digest).equals(cfg)).toBe(true);
    expect(m.layers.every((l) => l.mediaType === OCI_LAYER_ZSTD)).toBe(true);
    expect(parseManifest(v.bytes).mediaType).toBe(OCI_MANIFEST);
  });

  it('refuses artifacts and lists (E_UNSUPPORTED) and a layer whose content contradicts the config (E_DIGEST_MISMATCH)', async () => {
    const reg = new MemoryRegistry();
    const src = reg.repo('lab/odd');
    const dest = reg.repo('lab/odd-zstd');
    const cfg = src.addBlob(Buffer.from('{}'));
    const artifact = serializeOCIManifest({ schemaVersion: 2, artifactType: 'application/vnd.example', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: cfg, size: 2 }, layers: [] });
    const a = await makeVariant({ src, dest, instanceManifest: { bytes: artifact, mediaType: OCI_MANIFEST, digest: digestOf(artifact) }, algorithm: 'zstd' }).catch((e: unknown) => e);
    expect((a as PlaitError).code).toBe('E_UNSUPPORTED');
    const list = serializeOCIIndex({ schemaVersion: 2, manifests: [] });
    const l = await makeVariant({ src, dest, instanceManifest: { bytes: list, mediaType: OCI_INDEX, digest: digestOf(list) }, algorithm: 'zstd' }).catch((e: unknown) => e);
    expect((l as PlaitError).code).toBe('E_UNSUPPORTED');

    const img = putImage(src, await tars('liar', 2));
    const lying = JSON.parse(img.config.toString()) as { rootfs: { diff_ids: string[] } };
    lying.rootfs.diff_ids.reverse();
    const lyingConfig = Buffer.from(JSON.stringify(lying));
    const m = manifestOf(src, img.manifest.digest);
    const bytes = serializeOCIManifest({ ...m, config: { mediaType: OCI_CONFIG, digest: src.addBlob(lyingConfig), size: lyingConfig.length } });
    const d = await makeVariant({ src, dest, instanceManifest: { bytes, mediaType: OCI_MANIFEST, digest: src.addManifest(bytes, OCI_MANIFEST) }, algorithm: 'zstd' }).catch((e: unknown) => e);
    expect((d as PlaitError).code).toBe('E_DIGEST_MISMATCH');
    expect((d as PlaitError).message).toContain('the config says');
    expect(dest.manifests.size).toBe(0);
  });

  it('the first failing layer fails the clone, and no manifest is written', async () => {
    const reg = new MemoryRegistry();
    const src = reg.repo('lab/flaky');
    const dest = reg.repo('lab/flaky-zstd');
    const img = putImage(src, await tars('flaky', 3));
    src.failBlob = img.layers[1]!.digest;
    const err = await makeVariant({ src, dest, instanceManifest: img.manifest, algorithm: 'zstd', jobs: 1 }).catch((e: unknown) => e);
    expect((err as PlaitError).code).toBe('E_NETWORK');
    expect(dest.manifests.size).toBe(0);
  });
});

describe('reproducibility through the store (§5.8)', () => {
  it('a second run finds the clone in place: same digest, nothing read, nothing uploaded', async () => {
    const store = await newStore();
    const reg = new MemoryRegistry();
    const src = reg.repo('lab/app');
    const dest = reg.repo('lab/zstd');
    const img = putImage(src, await tars('repro'));
    const first = await makeVariant({ src, dest, instanceManifest: img.manifest, algorithm: 'zstd', store });
    const uploads = dest.counts.putBlob;
    const reads = src.counts.getBlob;
    const again = await makeVariant({ src, dest, instanceManifest: img.manifest, algorithm: 'zstd', store });
    expect(again.digest).toBe(first.digest);
    expect(again.bytes.equals(first.bytes)).toBe(true);
    expect(again.cached).toBe(true);
    expect(dest.counts.putBlob).toBe(uploads);
    expect(dest.counts.putManifest).toBe(1);
    expect(src.counts.getBlob).toBe(reads);
    const facts = await store.getFact<Record<string, { digest: string; locations: unknown[] }>>(VARIANT_BLOB_FACT, img.layers[0]!.digest);
    expect(Object.keys(facts!)).toEqual(['zstd:3']);
    expect(facts!['zstd:3']!.locations).toEqual([dest.location]);
    expect(await store.getFact(VARIANT_MANIFEST_FACT, img.manifest.digest)).toMatchObject({ 'zstd:3': { digest: first.digest, size: first.size } });
  });

  it('to another repository of the registry the remembered variants are mounted, not recompressed', async () => {
    const store = await newStore();
    const reg = new MemoryRegistry();
    const src = reg.repo('lab/app');
    const img = putImage(src, await tars('mount'));
    const first = await makeVariant({ src, dest: reg.repo('a/zstd'), instanceManifest: img.manifest, algorithm: 'zstd', store });
    const other = reg.repo('b/zstd');
    const second = await makeVariant({ src, dest: other, instanceManifest: img.manifest, algorithm: 'zstd', store });
    expect(second.digest).toBe(first.digest);
    expect(second.layers.map((l) => l.how)).toEqual(['mounted', 'mounted']);
    expect(other.counts.putBlob).toBe(0);
    // Both places are now known.
    const facts = await new VariantCache(store).getBlob(img.layers[0]!.digest, 'zstd:3');
    expect(facts!.locations).toEqual([other.location, reg.repo('a/zstd').location]);
  });

  it('gone everywhere: recompressed again; a different result (a changed encoder) replaces the remembered one', async () => {
    const store = await newStore();
    const src = new MemoryRegistry('one.test').repo('lab/app');
    const img = putImage(src, await tars('gone', 1));
    const first = await makeVariant({ src, dest: new MemoryRegistry('two.test').repo('x'), instanceManifest: img.manifest, algorithm: 'zstd', store });
    // Same encoder, new registry: recompressed to the very same bytes.
    const third = new MemoryRegistry('three.test').repo('x');
    const again = await makeVariant({ src, dest: third, instanceManifest: img.manifest, algorithm: 'zstd', store });
    expect(again.digest).toBe(first.digest);
    expect(again.layers[0]!.how).toBe('recompressed');
    // Pretend an older encoder had produced other bytes, which no registry has any more.
    const cache = new VariantCache(store);
    const key = variantKey('zstd');
    const real = (await cache.getBlob(img.layers[0]!.digest, key))!;
    const stale = `sha256:${'e'.repeat(64)}` as Digest;
    await cache.putBlob(img.layers[0]!.digest, key, { ...real, digest: stale });
    const fresh = await makeVariant({ src, dest: new MemoryRegistry('four.test').repo('x'), instanceManifest: img.manifest, algorithm: 'zstd', store });
    expect(fresh.layers[0]!.digest).toBe(real.digest);
    expect((await cache.getBlob(img.layers[0]!.digest, key))!.digest).toBe(real.digest);
  });

  it('levels are separate variants; concurrent updates of one source keep every entry; damaged facts are misses', async () => {
    const store = await newStore();
    const cache = new VariantCache(store);
    const src = `sha256:${'1'.repeat(64)}` as Digest;
    const v = (c: string) => ({ digest: `sha256:${c.repeat(64)}` as Digest, size: 1, mediaType: OCI_LAYER_ZSTD, diffId: `sha256:${'d'.repeat(64)}` as Digest });
    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9].map((l) => cache.putBlob(src, variantKey('zstd', l), v(String(l)))));
    for (const l of [1, 2, 3, 4, 5, 6, 7, 8, 9]) expect((await cache.getBlob(src, `zstd:${l}`))!.digest).toBe(v(String(l)).digest);
    await store.putFact(VARIANT_BLOB_FACT, src, { 'zstd:3': { digest: 'not a digest' } });
    expect(await cache.getBlob(src, 'zstd:3')).toBeUndefined();
    expect(await new VariantCache(undefined).getBlob(src, 'zstd:3')).toBeUndefined();
  });

  it('makeListVariants: plans, skips artifacts, clones, and records the clones in an OCI index', async () => {
    const store = await newStore();
    const reg = new MemoryRegistry();
    const src = reg.repo('lab/list');
    const dest = reg.repo('lab/list-zstd');
    const amd = putImage(src, await tars('l-amd', 1), { platform: { architecture: 'amd64', os: 'linux' } });
    const arm = putImage(src, await tars('l-arm', 1), { platform: { architecture: 'arm64', os: 'linux' } });
    const cfg = src.addBlob(Buffer.from('{}'));
    const art = serializeOCIManifest({ schemaVersion: 2, config: { mediaType: 'application/vnd.example.config', digest: cfg, size: 2 }, layers: [] });
    const artDigest = src.addManifest(art, OCI_MANIFEST);
    const s390 = putImage(src, await tars('l-s390', 1), { platform: { architecture: 's390x', os: 'linux' } });
    const entry = (m: { digest: Digest; bytes: Buffer }, architecture: string) => ({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.bytes.length, platform: { architecture, os: 'linux' } });
    const listBytes = serializeOCIIndex({
      schemaVersion: 2,
      manifests: [entry(amd.manifest, 'amd64'), entry(arm.manifest, 'arm64'), entry({ digest: artDigest, bytes: art }, 's390x'), entry(s390.manifest, 's390x')],
    });
    const list = { bytes: listBytes, mediaType: OCI_INDEX, digest: src.addManifest(listBytes, OCI_INDEX) };
    const r = await makeListVariants({ src, dest, list, algorithms: ['zstd'], store });
    expect(r.skipped).toEqual([artDigest]);
    expect(r.clones.map((c) => c.position)).toEqual([0, 1, 3]);
    expect(r.index.manifests!.map((d) => d.annotations?.[ANNOTATION_ZSTD_INSTANCE] ?? '-')).toEqual(['-', '-', '-', '-', 'true', 'true', 'true']);
    expect(r.bytes.equals(serializeOCIIndex(r.index))).toBe(true);
    expect(r.digest).toBe(digestOf(r.bytes));
    for (const c of r.clones) expect(dest.manifests.has(c.manifest.digest)).toBe(true);
    const again = await makeListVariants({ src, dest, list, algorithms: ['zstd'], store });
    expect(again.digest).toBe(r.digest);
    expect(again.clones.every((c) => c.manifest.cached)).toBe(true);
  });
});
