import { describe, expect, it } from 'vitest';
import { gunzipSync, gzipSync } from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import { ensureBlobPresent, RECOMPRESS_SLOTS, recompressBlob } from '../../../src/core/compression/recompress.js';
import { PlaitError } from '../../../src/errors.js';
import { digestOf } from '../../../src/oci/digest.js';
import * as mt from '../../../src/oci/mediatype.js';
import type { Descriptor } from '../../../src/oci/types.js';
import { collect, dataStream, MiB, sha } from './data.js';
import { MemoryRegistry } from './memory-transport.js';

const tarOf = (seed: string, size = 3 * MiB) => collect(dataStream('semi', size, seed));

function setup() {
  const reg = new MemoryRegistry();
  return { reg, src: reg.repo('src/app'), dest: reg.repo('dest/app') };
}

function layer(bytes: Buffer, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: digestOf(bytes), size: bytes.length, ...extra };
}

describe('recompressBlob', () => {
  it('gzip → zstd: streams, hashes the tar (diffID), stores the new blob under its digest', async () => {
    const { src, dest } = setup();
    const tar = await tarOf('a');
    const gz = gzipSync(tar);
    src.addBlob(gz);
    const r = await recompressBlob(src, dest, layer(gz, mt.OCI_LAYER_GZIP, { annotations: { a: 'b' } }), 'zstd');
    expect(r.recompressed).toBe(true);
    expect(r.mediaType).toBe(mt.OCI_LAYER_ZSTD);
    expect(r.diffId).toBe(sha(tar));
    const stored = dest.blobBytes(r.digest);
    expect(stored.length).toBe(r.size);
    expect(digestOf(stored)).toBe(r.digest);
    expect(zstdDecompress(stored).equals(tar)).toBe(true);
    expect(dest.counts.putBlob).toBe(1);
  });

  it('zstd → gzip at a level, uncompressed → zstd, Docker and nondistributable types mapped to OCI', async () => {
    const { src, dest } = setup();
    const tar = await tarOf('b');
    const zs = zstdCompress(tar);
    src.addBlob(zs);
    const g = await recompressBlob(src, dest, layer(zs, mt.OCI_LAYER_ZSTD), 'gzip', 1);
    expect(g.mediaType).toBe(mt.OCI_LAYER_GZIP);
    expect(g.diffId).toBe(sha(tar));
    expect(gunzipSync(dest.blobBytes(g.digest)).equals(tar)).toBe(true);

    src.addBlob(tar);
    const z = await recompressBlob(src, dest, layer(tar, mt.OCI_LAYER), 'zstd');
    expect(z.diffId).toBe(sha(tar));
    expect(zstdDecompress(dest.blobBytes(z.digest)).equals(tar)).toBe(true);

    const gz = gzipSync(tar);
    src.addBlob(gz);
    expect((await recompressBlob(src, dest, layer(gz, mt.DOCKER_LAYER_GZIP), 'zstd')).mediaType).toBe(mt.OCI_LAYER_ZSTD);
    expect((await recompressBlob(src, dest, layer(gz, mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP), 'zstd')).mediaType).toBe(mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD);
  });

  it('a layer already in the target is not read: present, mounted within the registry, or copied from elsewhere', async () => {
    const { reg, src, dest } = setup();
    const zs = zstdCompress(await tarOf('c'));
    src.addBlob(zs);
    const l = layer(zs, mt.OCI_LAYER_ZSTD, { annotations: { keep: 'me' } });
    const mounted = await recompressBlob(src, dest, l, 'zstd');
    expect(mounted).toEqual({ digest: l.digest, size: l.size, mediaType: mt.OCI_LAYER_ZSTD, recompressed: false });
    expect(dest.counts.mount).toBe(1);
    expect(src.counts.getBlob).toBe(0);
    await recompressBlob(src, dest, l, 'zstd');
    expect(dest.counts.mount).toBe(1);
    expect(src.counts.getBlob).toBe(0);
    const far = new MemoryRegistry('elsewhere.test').repo('x');
    await recompressBlob(src, far, l, 'zstd');
    expect(far.counts.putBlob).toBe(1);
    expect(far.blobBytes(l.digest).equals(zs)).toBe(true);
    expect(reg.repos.size).toBe(2);
  });

  it('bytes already in the target under a wrong media type are kept, not recompressed twice', async () => {
    const { src, dest } = setup();
    const zs = zstdCompress(await tarOf('d'));
    src.addBlob(zs);
    const r = await recompressBlob(src, new MemoryRegistry('other.test').repo('y'), layer(zs, mt.OCI_LAYER_GZIP), 'zstd');
    expect(r).toEqual({ digest: digestOf(zs), size: zs.length, mediaType: mt.OCI_LAYER_ZSTD, recompressed: false });
    expect(dest.counts.putBlob).toBe(0);
  });

  it('a source that fails mid-stream or does not match its digest fails the call and stores nothing', async () => {
    const { src, dest } = setup();
    const gz = gzipSync(await tarOf('e'));
    src.addBlob(gz);
    src.failBlob = digestOf(gz);
    const err = await recompressBlob(src, dest, layer(gz, mt.OCI_LAYER_GZIP), 'zstd').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlaitError);
    expect((err as PlaitError).code).toBe('E_NETWORK');
    expect(dest.blobs.size).toBe(0);

    const liar = setup();
    const other = gzipSync(await tarOf('f'));
    const claimed = digestOf(Buffer.from('something else'));
    liar.src.blobs.set(claimed, { size: other.length, content: other });
    const err2 = await recompressBlob(liar.src, liar.dest, { mediaType: mt.OCI_LAYER_GZIP, digest: claimed, size: other.length }, 'zstd').catch((e: unknown) => e);
    expect((err2 as PlaitError).code).toBe('E_DIGEST_MISMATCH');
    expect(liar.dest.blobs.size).toBe(0);
  });

  it('a corrupt gzip stream fails; a bad level or a non-layer type fails before anything is read', async () => {
    const { src, dest } = setup();
    const gz = gzipSync(await tarOf('g'));
    const broken = Buffer.concat([gz.subarray(0, 1000), Buffer.alloc(5000, 7)]);
    src.addBlob(broken);
    await expect(recompressBlob(src, dest, layer(broken, mt.OCI_LAYER_GZIP), 'zstd')).rejects.toThrow();
    expect(dest.blobs.size).toBe(0);
    src.addBlob(gz);
    const bad = await recompressBlob(src, dest, layer(gz, mt.OCI_LAYER_GZIP), 'zstd', 42).catch((e: unknown) => e);
    expect((bad as PlaitError).code).toBe('E_INVALID');
    const notLayer = await recompressBlob(src, dest, layer(gz, mt.OCI_CONFIG), 'zstd').catch((e: unknown) => e);
    expect((notLayer as PlaitError).code).toBe('E_UNSUPPORTED');
    expect(src.counts.getBlob).toBe(1);
  });
});

describe('ensureBlobPresent', () => {
  it('gives its slot up once the source is read and compressed: the next layer starts while an upload commits', async () => {
    const { src, dest } = setup();
    const layers = await Promise.all(Array.from({ length: RECOMPRESS_SLOTS + 1 }, async (_, i) => {
      const gz = gzipSync(await tarOf(`slot-${i}`, MiB));
      src.addBlob(gz);
      return layer(gz, mt.OCI_LAYER_GZIP);
    }));
    // Every upload has taken all its bytes but does not commit until the gate opens.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const put = dest.putBlob.bind(dest);
    let waiting = 0;
    dest.putBlob = async (stream, desc) => {
      const r = await put(stream, desc);
      waiting++;
      await gate;
      return r;
    };
    const all = Promise.all(layers.map((l) => recompressBlob(src, dest, l, 'zstd')));
    for (let i = 0; i < 500 && waiting < layers.length; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    // All of them were read while the first ones still waited to commit (before, the last waited for a slot).
    expect(src.counts.getBlob).toBe(layers.length);
    expect(waiting).toBe(layers.length);
    open();
    const results = await all;
    expect(results.every((r) => r.recompressed && dest.blobBytes(r.digest).length === r.size)).toBe(true);
  });

  it('present → mounted → copied, in that order of preference', async () => {
    const { src, dest } = setup();
    const d = src.addBlob(Buffer.from('config'));
    expect(await ensureBlobPresent(src, dest, { digest: d, size: 6 })).toBe('mounted');
    expect(await ensureBlobPresent(src, dest, { digest: d, size: 6 })).toBe('present');
    expect(await ensureBlobPresent(src, new MemoryRegistry('x.test').repo('z'), { digest: d, size: 6 })).toBe('copied');
  });
});
