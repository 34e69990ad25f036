import { describe, expect, it } from 'vitest';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CompressStream, compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import {
  Coalesce, compressor, DEFAULT_LEVEL, decompressor, defaultZstdWorkers, effectiveLevel, idleZstdContexts, peek, ZSTD_JOB_SIZE,
  ZstdDecompressStream,
} from '../../../src/core/compression/streams.js';
import { PlaitError } from '../../../src/errors.js';
import { collect, dataStream, keystream, MiB, sha } from './data.js';

const through = async (input: Buffer | Readable, ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer> => {
  const src = Buffer.isBuffer(input) ? Readable.from([input]) : input;
  const parts: Buffer[] = [];
  await pipeline(src, ...(stages as [NodeJS.ReadWriteStream]), new Writable({
    write(c: Buffer, _e, cb) {
      parts.push(c);
      cb();
    },
  }));
  return Buffer.concat(parts);
};

describe('codecs', () => {
  it('round-trips gzip and zstd, and gzip ↔ zstd, on semi-compressible and random data', async () => {
    for (const kind of ['semi', 'random'] as const) {
      const plain = await collect(dataStream(kind, 6 * MiB + 123, kind));
      const gz = await through(plain, compressor('gzip'));
      const zs = await through(plain, compressor('zstd'));
      expect(gunzipSync(gz).equals(plain)).toBe(true);
      expect(zstdDecompress(zs).equals(plain)).toBe(true);
      if (kind === 'semi') {
        expect(gz.length).toBeLessThan(plain.length * 0.6);
        expect(zs.length).toBeLessThan(plain.length * 0.6);
      }
      // gzip → zstd and back, as recompression does it.
      const toZstd = await through(gz, decompressor('gzip'), compressor('zstd'));
      expect(sha(zstdDecompress(toZstd))).toBe(sha(plain));
      const backToGzip = await through(toZstd, decompressor('zstd'), compressor('gzip', 9));
      expect(sha(gunzipSync(backToGzip))).toBe(sha(plain));
      expect((await through(plain, decompressor('none'))).equals(plain)).toBe(true);
    }
  });

  it('reads what other encoders wrote: multi-frame zstd, concatenated gzip members', async () => {
    const a = Buffer.from('first part ');
    const b = Buffer.from('second part');
    const frames = Buffer.concat([zstdCompress(a), zstdCompress(b)]);
    expect((await through(frames, decompressor('zstd'))).toString()).toBe('first part second part');
    const members = Buffer.concat([gzipSync(a), gzipSync(b)]);
    expect((await through(members, decompressor('gzip'))).toString()).toBe('first part second part');
  });

  it('fails on truncated input instead of returning a short layer', async () => {
    const plain = await collect(dataStream('random', MiB));
    // Our encoder writes frame checksums (as containers/image's does), so even a flipped byte in a stored block fails.
    const zs = await through(plain, compressor('zstd'));
    const errZ = await through(zs.subarray(0, zs.length - 10), decompressor('zstd')).catch((e: unknown) => e);
    expect(errZ).toBeInstanceOf(PlaitError);
    expect((errZ as PlaitError).code).toBe('E_INVALID');
    const gz = gzipSync(plain);
    await expect(through(gz.subarray(0, gz.length - 10), decompressor('gzip'))).rejects.toThrow(/unexpected end/);
    const corrupt = Buffer.from(zs);
    const at = corrupt.length >> 1;
    corrupt.writeUInt8(corrupt.readUInt8(at) ^ 0xff, at);
    await expect(through(corrupt, decompressor('zstd'))).rejects.toThrow(/zstd/);
  });

  it('levels: defaults gzip 6 / zstd 3, ranges checked with E_INVALID', () => {
    expect(DEFAULT_LEVEL).toEqual({ gzip: 6, zstd: 3 });
    expect(effectiveLevel('gzip')).toBe(6);
    expect(effectiveLevel('zstd', 19)).toBe(19);
    for (const [alg, level] of [['gzip', 0], ['gzip', 10], ['zstd', 0], ['zstd', 20], ['zstd', 2.5]] as const) {
      expect(() => compressor(alg, level)).toThrow(/level must be an integer/);
      try {
        effectiveLevel(alg, level);
      } catch (e) {
        expect((e as PlaitError).code).toBe('E_INVALID');
      }
    }
    expect(defaultZstdWorkers()).toBeGreaterThanOrEqual(1);
  });

  it('zstd output does not depend on the number of worker threads (≥ 1), so it does not depend on the machine', async () => {
    const digests = new Set<string>();
    for (const workers of [1, 2, 4]) {
      digests.add(sha(await through(dataStream('semi', 24 * MiB, 'workers'), compressor('zstd', { workers }))));
    }
    expect(digests.size).toBe(1);
  });
});

describe('Coalesce', () => {
  it('hands on the same bytes in pieces of at least its size, the last one shorter', async () => {
    const input = await collect(dataStream('random', 5 * MiB + 1000, 'coalesce'));
    const parts: number[] = [];
    const out: Buffer[] = [];
    const pieces = Array.from({ length: Math.ceil(input.length / 65536) }, (_, i) => input.subarray(i * 65536, (i + 1) * 65536));
    await pipeline(Readable.from(pieces), new Coalesce(MiB), new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c.length);
        out.push(c);
        cb();
      },
    }));
    expect(Buffer.concat(out).equals(input)).toBe(true);
    expect(parts).toEqual([MiB, MiB, MiB, MiB, MiB, 1000]);
    // A chunk already as big as the size is handed on as it is, not copied.
    const big = Buffer.alloc(3 * MiB, 1);
    const seen: Buffer[] = [];
    await pipeline(Readable.from([big]), new Coalesce(MiB), new Writable({
      write(c: Buffer, _e, cb) {
        seen.push(c);
        cb();
      },
    }));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.buffer).toBe(big.buffer);
  });
});

describe('zstd compression contexts handed on between layers', () => {
  it('a context reused after a whole frame, or reset after a stream destroyed part-way, makes the bytes of a fresh one', async () => {
    for (const workers of [0, 1]) {
      const level = 5;
      const input = () => dataStream('semi', 5 * MiB + 77, `reuse-${workers}`);
      // The reference: zstd-napi's own stream with the same parameters, a fresh context every time.
      const fresh = sha(await through(input(), new CompressStream({
        compressionLevel: level, nbWorkers: workers, checksumFlag: true, ...(workers > 0 && { jobSize: ZSTD_JOB_SIZE }),
      })));
      const idle = idleZstdContexts(level, workers);
      expect(sha(await through(input(), compressor('zstd', { level, workers })))).toBe(fresh);
      expect(idleZstdContexts(level, workers)).toBe(idle + 1);
      // Part of a frame, then the stream dies (say, the upload failed): the context is reset and comes back.
      const cut = compressor('zstd', { level, workers });
      await new Promise<void>((resolve) => cut.write(Buffer.alloc(3 * MiB, 7), () => resolve()));
      expect(idleZstdContexts(level, workers)).toBe(idle);
      cut.destroy();
      await new Promise((resolve) => setImmediate(resolve));
      expect(idleZstdContexts(level, workers)).toBe(idle + 1);
      expect(sha(await through(input(), compressor('zstd', { level, workers })))).toBe(fresh);
      expect(sha(await through(input(), compressor('zstd', { level, workers })))).toBe(fresh);
    }
  });

  it('lets the idle contexts go once none was handed back for 5 s (a long-lived process keeps none between runs)', async () => {
    await through(dataStream('random', MiB, 'idle'), compressor('zstd', { level: 4, workers: 1 }));
    expect(idleZstdContexts(4, 1)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 5300));
    expect(idleZstdContexts(4, 1)).toBe(0);
  }, 15_000);
});

describe('ZstdDecompressStream backpressure', () => {
  it('a tiny zstd input expanding to 256 MiB is produced only as fast as it is read', async () => {
    const compressed = await through(dataStream('zero', 256 * MiB), compressor('zstd'));
    expect(compressed.length).toBeLessThan(64 * 1024);
    const dec = new ZstdDecompressStream();
    dec.end(compressed);
    // Nobody reads: the decoder must stop near its highWaterMark instead of inflating everything.
    await new Promise((r) => setTimeout(r, 50));
    expect(dec.readableLength).toBeLessThanOrEqual(dec.readableHighWaterMark + 256 * 1024);
    let total = 0;
    let peakBuffered = 0;
    await pipeline(dec, new Writable({
      highWaterMark: 64 * 1024,
      write(c: Buffer, _e, cb) {
        total += c.length;
        peakBuffered = Math.max(peakBuffered, dec.readableLength);
        setImmediate(cb);
      },
    }));
    expect(total).toBe(256 * MiB);
    expect(peakBuffered).toBeLessThanOrEqual(dec.readableHighWaterMark + 256 * 1024);
  });
});

describe('ZstdDecompressStream under arbitrary chunking', () => {
  it('never stalls and reproduces the input, whatever the input split and the reader speed', async () => {
    const next = keystream('chunking');
    for (const kind of ['semi', 'zero', 'random'] as const) {
      const plain = await collect(dataStream(kind, 2 * MiB + 7, kind));
      const zs = await through(plain, compressor('zstd'));
      for (let round = 0; round < 4; round++) {
        const pieces: Buffer[] = [];
        for (let off = 0; off < zs.length;) {
          const n = 1 + (next(2).readUInt16LE(0) % (round % 2 === 0 ? 3000 : 200_000));
          pieces.push(zs.subarray(off, off + n));
          off += n;
        }
        const dec = new ZstdDecompressStream();
        const parts: Buffer[] = [];
        await pipeline(Readable.from(pieces), dec, new Writable({
          highWaterMark: 1 + (round * 40_000),
          write(c: Buffer, _e, cb) {
            parts.push(c);
            if (next(1)[0]! < 32) setTimeout(cb, 1);
            else if (next(1)[0]! < 128) setImmediate(cb);
            else cb();
          },
        }));
        expect(sha(Buffer.concat(parts)), `${kind} round ${round}`).toBe(sha(plain));
      }
    }
  });
});

describe('peek', () => {
  it('returns the head and a stream that still starts at byte 0', async () => {
    const pt = new PassThrough();
    for (const b of [0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02]) pt.write(Buffer.from([b]));
    pt.end(Buffer.from('rest'));
    const { head, stream } = await peek(pt, 4);
    expect([...head]).toEqual([0x1f, 0x8b, 0x08, 0x00]);
    expect([...(await collect(stream))]).toEqual([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, ...Buffer.from('rest')]);
  });

  it('copes with streams shorter than the head, empty streams and errors', async () => {
    const short = await peek(Readable.from([Buffer.from([0x1f])]), 4);
    expect([...short.head]).toEqual([0x1f]);
    expect([...(await collect(short.stream))]).toEqual([0x1f]);
    const empty = await peek(Readable.from([]), 4);
    expect(empty.head.length).toBe(0);
    expect((await collect(empty.stream)).length).toBe(0);
    const failing = new PassThrough();
    setImmediate(() => failing.destroy(new Error('boom')));
    await expect(peek(failing, 4)).rejects.toThrow('boom');
  });
});
