import { afterAll, describe, expect, it } from 'vitest';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline as pipelineCb, Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { recompressBlob } from '../../../src/core/compression/recompress.js';
import { VariantTee } from '../../../src/core/compression/tee.js';
import { DigestingHasher } from '../../../src/oci/digest.js';
import type { Digest } from '../../../src/oci/digest.js';
import { OCI_LAYER_GZIP, OCI_LAYER_ZSTD } from '../../../src/oci/mediatype.js';
import { LayoutImage } from '../../../src/transports/layout/layout.js';
import { splitVerified, VerifyingStream } from '../../../src/transports/verify.js';
import { dataStream, MiB } from './data.js';

// One read feeding two consumers: the copies of a verified stream keep its guarantees (same bytes, fail on a wrong
// digest, never end early), the slower consumer holds the read back, and a variant made from a copy is byte for byte
// the one recompressBlob makes from its own read.

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function digestOfData(kind: 'random' | 'semi', size: number, seed: string): Promise<Digest> {
  const h = new DigestingHasher();
  for await (const c of dataStream(kind, size, seed)) h.update(c as Buffer);
  return h.digest();
}

function verifiedData(size: number, seed: string, digest: Digest): VerifyingStream {
  const v = new VerifyingStream(digest, size, `test ${seed}`);
  pipelineCb(dataStream('random', size, seed, 256 * 1024), v, () => undefined);
  return v;
}

async function hashAll(s: Readable, onChunk?: (n: number) => void): Promise<Digest> {
  const h = new DigestingHasher();
  for await (const c of s) {
    h.update(c as Buffer);
    onChunk?.((c as Buffer).length);
  }
  return h.digest();
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 10));
};

describe('splitVerified', () => {
  it('gives every copy the same bytes, as VerifyingStreams of the same digest', async () => {
    const digest = await digestOfData('random', 8 * MiB, 'same');
    const copies = splitVerified(verifiedData(8 * MiB, 'same', digest), 3);
    expect(copies.every((c) => c instanceof VerifyingStream && c.expected === digest && c.expectedSize === 8 * MiB)).toBe(true);
    expect(await Promise.all(copies.map((c) => hashAll(c)))).toEqual([digest, digest, digest]);
    expect(copies.map((c) => c.size)).toEqual([8 * MiB, 8 * MiB, 8 * MiB]);
    expect(copies[0]!.digest).toBe(digest);
  });

  it('holds a fast reader back to a few MiB ahead of a reader that does not read', async () => {
    const size = 64 * MiB;
    const digest = await digestOfData('random', size, 'pace');
    const [fast, slow] = splitVerified(verifiedData(size, 'pace', digest), 2);
    let read = 0;
    const fastDone = hashAll(fast!, (n) => (read += n));
    await turns(30);
    // Bounded by the buffers of the copies and the upstream, not by the blob.
    expect(read).toBeLessThan(8 * MiB);
    const [a, b] = await Promise.all([fastDone, hashAll(slow!)]);
    expect(a).toBe(digest);
    expect(b).toBe(digest);
  });

  it('fails every copy, before its end, when the upstream has the wrong digest', async () => {
    const wrong = await digestOfData('random', 4 * MiB, 'other');
    const copies = splitVerified(verifiedData(4 * MiB, 'bad', wrong), 2);
    const ends = copies.map((c) => new Promise<boolean>((resolve) => {
      c.on('end', () => resolve(true));
      c.on('error', () => resolve(false));
    }));
    const results = await Promise.allSettled(copies.map((c) => hashAll(c)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(results.map((r) => ((r as PromiseRejectedResult).reason as { code?: string }).code)).toEqual(['E_DIGEST_MISMATCH', 'E_DIGEST_MISMATCH']);
    expect(await Promise.all(ends)).toEqual([false, false]);
  });

  it('stops the read and fails the other copy when one consumer gives up', async () => {
    const digest = await digestOfData('random', 32 * MiB, 'quit');
    const upstream = verifiedData(32 * MiB, 'quit', digest);
    const [a, b] = splitVerified(upstream, 2);
    const other = hashAll(b!);
    a!.on('error', () => undefined);
    a!.destroy(new Error('upload refused'));
    await expect(other).rejects.toThrow('upload refused');
    await turns(2);
    expect(upstream.destroyed).toBe(true);
  });
});

const tap = (h: DigestingHasher) => new Transform({
  transform(c: Buffer, _e, cb) {
    h.update(c);
    cb(null, c);
  },
});

async function layout(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plait-tee-'));
  dirs.push(dir);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
  return dir;
}

describe('VariantTee', () => {
  it('makes the variant from the copy\'s read with the bytes recompressBlob makes, and copies the layer as it is', async () => {
    const srcDir = await layout();
    const blob = new DigestingHasher();
    const tmp = join(srcDir, 'blob.tmp');
    // Several zstd jobs (2 MiB each) and many gzip members' worth of input, so chunking differences would show.
    await pipeline(dataStream('semi', 24 * MiB, 'tee-layer', 300 * 1024), createGzip({ level: 1 }), tap(blob), createWriteStream(tmp));
    await rename(tmp, join(srcDir, 'blobs', 'sha256', blob.digest().slice('sha256:'.length)));
    const src = new LayoutImage(srcDir);
    const layer = { mediaType: OCI_LAYER_GZIP, digest: blob.digest(), size: blob.size };
    const desc = { digest: layer.digest, size: layer.size };

    const alone = await recompressBlob(src, new LayoutImage(await layout()), layer, 'zstd');
    const alone7 = await recompressBlob(src, new LayoutImage(await layout()), layer, 'zstd', 7);

    const dest = new LayoutImage(await layout());
    const tee = new VariantTee(dest);
    tee.want(layer, 'zstd');
    tee.want(layer, 'zstd', 7);
    const put = await tee.copy(await src.getBlob(desc), desc, (s) => dest.putBlob(s, desc));
    expect(put).toEqual(desc);
    expect(await dest.hasBlob(desc)).toBe(true);
    const made = await tee.result(layer.digest, 'zstd:3');
    const made7 = await tee.result(layer.digest, 'zstd:7');
    expect(made).toEqual(alone);
    expect(made7).toEqual(alone7);
    expect(made!.mediaType).toBe(OCI_LAYER_ZSTD);
    expect(await dest.hasBlob({ digest: made!.digest, size: made!.size })).toBe(true);
    expect(await dest.hasBlob({ digest: made7!.digest, size: made7!.size })).toBe(true);
  }, 120_000);

  it('copies a blob it was not asked about as it is, with nothing else made', async () => {
    const dir = await layout();
    const dest = new LayoutImage(dir);
    const digest = await digestOfData('random', MiB, 'plain');
    const tee = new VariantTee(dest);
    const desc = { digest, size: MiB };
    expect(await tee.copy(verifiedData(MiB, 'plain', digest), desc, (s) => dest.putBlob(s, desc))).toEqual(desc);
    expect(tee.result(digest, 'zstd:3')).toBeUndefined();
  });
});
