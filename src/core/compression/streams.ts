import { createRequire } from 'node:module';
import { PassThrough, Readable, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type ZstdBinding from 'zstd-napi/binding.js';
import { ErrorCodes, PlaitError } from '../../errors.js';
import type { DigestingHasher } from '../../oci/digest.js';
import type { Algorithm, Compression } from './detect.js';

// Streaming codecs. Everything here is a Node Transform so a layer of any size flows through with a bounded amount
// of memory: nothing ever holds a whole blob. gzip is node:zlib (its work runs on the libuv pool, off the main
// thread); zstd is zstd-napi (Node 20 has no zstd in zlib), whose bundled libzstd is built with multithreading.

/**
 * Default levels, chosen to match what containers/image writes when no level is given: gzip through pgzip, whose
 * DefaultCompression is level 6 in current klauspost/compress (5 in some older releases — 6 is also zlib's own
 * default); zstd through klauspost's SpeedDefault, which corresponds to libzstd level 3 (libzstd's default too).
 */
export const DEFAULT_LEVEL: Readonly<Record<Algorithm, number>> = Object.freeze({ gzip: 6, zstd: 3 });

// gzip 0 would store, which makes no sense for a variant; zstd levels above 19 ("ultra") need huge windows that
// decoders may refuse, and negative (fast) levels are not what anyone asks for when replicating.
const LEVEL_RANGE: Readonly<Record<Algorithm, readonly [number, number]>> = Object.freeze({ gzip: [1, 9], zstd: [1, 19] });

/** The level to use: `level` checked against the algorithm's range (E_INVALID), or the default. */
export function effectiveLevel(algorithm: Algorithm, level?: number): number {
  if (level === undefined) return DEFAULT_LEVEL[algorithm];
  const [lo, hi] = LEVEL_RANGE[algorithm];
  if (!Number.isInteger(level) || level < lo || level > hi) {
    throw new PlaitError(ErrorCodes.E_INVALID, `${algorithm} compression level must be an integer from ${lo} to ${hi}, got ${level}`, {
      details: { algorithm, level },
    });
  }
  return level;
}

/**
 * zstd worker threads per stream: always 1, never 0. libzstd's output is identical for every nbWorkers ≥ 1 but
 * differs from single-threaded mode (0), so the threaded mode keeps the bytes (hence digests) of a variant
 * independent of the machine that made it, and with a worker the caller's thread only hands input over, so hashing
 * and HTTP on the main thread overlap with compression. More than one worker per stream does not pay: parallelism
 * comes from recompressing several layers at once (recompress.ts RECOMPRESS_SLOTS), and each extra worker adds its
 * job buffers to the peak RSS. The 4-platform zstd case (16 layers of 16 MiB) on a 2-core machine, one layer at a
 * time, median of 5: 1 worker 8.1 s wall, 4.5 s CPU, 112 MiB; 2 workers 10.0 s, 4.8 s, 118 MiB (a loaded machine).
 */
export function defaultZstdWorkers(): number {
  return 1;
}

/** libzstd job size in threaded mode (see compressor()). */
export const ZSTD_JOB_SIZE = 2 * 1024 * 1024;

export interface CompressorOptions {
  level?: number;
  /** zstd only: worker threads (default defaultZstdWorkers(); 0 = compress on the calling thread, other bytes). */
  workers?: number;
}

/** A Transform compressing to `algorithm` at `level` (default DEFAULT_LEVEL). */
export function compressor(algorithm: Algorithm, opts: CompressorOptions | number = {}): Transform {
  const o = typeof opts === 'number' ? { level: opts } : opts;
  const level = effectiveLevel(algorithm, o.level);
  if (algorithm === 'gzip') {
    // Node's gzip header carries no name and no mtime (zeros) and OS 3 (unix), so the output depends only on the
    // input, the level and the zlib build. 64 KiB chunks (zlib's default is 16 KiB) quarter the per-chunk overhead.
    return createGzip({ level, chunkSize: 64 * 1024 });
  }
  const workers = o.workers ?? defaultZstdWorkers();
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new PlaitError(ErrorCodes.E_INVALID, `zstd workers must be an integer from 0 to 64, got ${workers}`);
  }
  // checksumFlag: containers/image's zstd writer (klauspost) appends the frame checksum, so decoders verify content.
  // jobSize: with workers, libzstd buffers several jobs of 4 × the window (8 MiB at level 3) per stream: 85–100 MiB
  // of RSS growth measured on a 256 MiB layer; 2 MiB jobs cut that to ~55 MiB, for 0.5 % more output on a real tar
  // (/usr/lib) and no loss of speed. It is part of what determines the output bytes, hence a constant (it does not
  // apply in single-threaded mode).
  return new ZstdCompressStream(level, workers);
}

interface Zstd {
  binding: typeof ZstdBinding;
  /** libzstd's recommended output buffer sizes for streaming compression and decompression. */
  cOut: number;
  dOut: number;
}
let loaded: Zstd | undefined;

/**
 * zstd-napi's native binding, required at the first zstd stream instead of with this module. An install whose
 * binding was never built (npm 12 runs no dependency's install script that nothing allows, and zstd-napi's builds
 * it) or failed to build then fails each zstd stream with one line that says so and how to mend it, while gzip,
 * plain copies and everything else still run.
 */
function zstd(): Zstd {
  if (loaded !== undefined) return loaded;
  let binding: typeof ZstdBinding;
  try {
    binding = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED,
      `zstd needs zstd-napi's native binding, which did not load (${why}); reinstall plait with zstd-napi's install script allowed (npm install -g --allow-scripts=zstd-napi …, or npm ci in a clone)`,
      { cause: e });
  }
  loaded = { binding, cOut: binding.cStreamOutSize(), dOut: binding.dStreamOutSize() };
  return loaded;
}

type CCtx = InstanceType<typeof ZstdBinding.CCtx>;

// Compression contexts left by finished streams, by level and workers. A context in threaded mode owns its worker
// thread and its job buffers (~17 MiB at level 3, 2 MiB jobs), and tells V8 that much external memory. One made
// per layer lives as long as the layer, survives the scavenges reclaim.ts asks for, and is freed only by a
// mark-compact: each layer's context pushed V8 over its external-memory limit again, which started a mark-compact
// each time (the 4-platform zstd case: 30–48 of them, ~0.4 s of the main thread), and dead contexts counted in the
// RSS until then. A context is handed on instead: after a frame's end it is ready for the next frame with the same
// parameters, and its output is the same bytes as a fresh one's (test/unit/compression/streams.test.ts).
const idleContexts = new Map<string, CCtx[]>();
// More idle than layers recompress at once is never needed; the rest are left to the GC.
const IDLE_PER_KEY = 4;
// A long-lived process (the controller, watch) should not keep ~17 MiB per idle context between reconciles: the pool
// is let go (to the GC) once nothing was handed back to it for this long.
const IDLE_MS = 5000;
let idleTimer: NodeJS.Timeout | undefined;

const contextKey = (level: number, workers: number) => `${level}/${workers}`;

function takeContext(level: number, workers: number): CCtx {
  const ctx = idleContexts.get(contextKey(level, workers))?.pop();
  if (ctx !== undefined) return ctx;
  const { binding } = zstd();
  const fresh = new binding.CCtx();
  const P = binding.CParameter;
  // The parameters zstd-napi's CompressStream would set for the same options, in the same order.
  fresh.setParameter(P.compressionLevel, level);
  fresh.setParameter(P.nbWorkers, workers);
  fresh.setParameter(P.checksumFlag, 1);
  if (workers > 0) fresh.setParameter(P.jobSize, ZSTD_JOB_SIZE);
  return fresh;
}

/** Contexts waiting in the pool for `level` and `workers` (for tests). */
export function idleZstdContexts(level: number, workers: number): number {
  return idleContexts.get(contextKey(level, workers))?.length ?? 0;
}

function giveBack(level: number, workers: number, ctx: CCtx): void {
  const key = contextKey(level, workers);
  let idle = idleContexts.get(key);
  if (idle === undefined) idleContexts.set(key, (idle = []));
  if (idle.length < IDLE_PER_KEY) idle.push(ctx);
  if (idleTimer === undefined) {
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      idleContexts.clear();
    }, IDLE_MS);
    idleTimer.unref();
  } else {
    idleTimer.refresh();
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * zstd encoding through a context borrowed from the pool above and given back once the frame is complete, or reset
 * and given back when the stream is destroyed part-way (a failed upload, a corrupt source).
 */
export class ZstdCompressStream extends Transform {
  private readonly lib = zstd();
  private ctx: CCtx | undefined;
  private out = Buffer.allocUnsafe(this.lib.cOut);

  constructor(private readonly level: number, private readonly workers: number) {
    super();
    this.ctx = takeContext(level, workers);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.encode(chunk, this.lib.binding.EndDirective.continue);
    } catch (e) {
      done(e as Error);
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    try {
      this.encode(EMPTY, this.lib.binding.EndDirective.end);
    } catch (e) {
      done(e as Error);
      return;
    }
    // The frame is complete: the context starts the next one afresh.
    const ctx = this.ctx;
    this.ctx = undefined;
    if (ctx !== undefined) giveBack(this.level, this.workers, ctx);
    done();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    const ctx = this.ctx;
    this.ctx = undefined;
    if (ctx !== undefined) {
      try {
        ctx.reset(this.lib.binding.ResetDirective.sessionOnly);
        giveBack(this.level, this.workers, ctx);
      } catch {
        // A context that cannot be reset is not reused.
      }
    }
    cb(err);
  }

  private encode(input: Buffer, end: number): void {
    const ctx = this.ctx;
    if (ctx === undefined) throw new PlaitError(ErrorCodes.E_INTERNAL, 'zstd: write after the end of the frame');
    let src = input;
    for (;;) {
      const [ret, produced, consumed] = ctx.compressStream2(this.out, src, end);
      if (produced > 0) {
        this.push(this.out.subarray(0, produced));
        this.out = Buffer.allocUnsafe(Math.max(this.lib.cOut, ret));
      }
      src = src.subarray(consumed);
      if (src.length === 0 && (end === this.lib.binding.EndDirective.continue || ret === 0)) return;
    }
  }
}

/** A Transform undoing `compression` ('none' passes bytes through unchanged). */
export function decompressor(compression: Compression): Transform {
  switch (compression) {
    case 'none':
      return new PassThrough();
    case 'gzip':
      // Concatenated gzip members (pigz, some layer writers) are read as one stream, as Go's gzip.Reader does; a
      // truncated stream fails (the default finish flush), it is never silently cut short. 256 KiB output chunks:
      // a quarter of the callbacks of 64 KiB, each of which runs the whole synchronous downstream (the zstd case:
      // 0.1–0.2 s less CPU in three A/B runs, no higher peak RSS with one layer per two cores in flight).
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd':
      return new ZstdDecompressStream();
  }
}

/**
 * zstd decoding that honours backpressure inside one input chunk. zstd-napi's own DecompressStream decodes a whole
 * input chunk in one go and pushes everything it yields; a 64 KiB chunk of a layer full of zeros can expand to
 * gigabytes, so a slow consumer (a registry upload) would see all of it buffered. Here decoding stops whenever the
 * readable side is full and resumes from _read, so at most about one output block (128 KiB) is held beyond the
 * stream's highWaterMark.
 */
export class ZstdDecompressStream extends Transform {
  private readonly lib = zstd();
  private readonly dctx = new this.lib.binding.DCtx();
  // Input left over when decoding paused, and the callback that releases the writer once it is consumed.
  private pending: { src: Buffer; done: TransformCallback } | undefined;
  private inFrame = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pump(chunk, done);
  }

  private pump(input: Buffer, done: TransformCallback): void {
    let src = input;
    try {
      for (;;) {
        const out = Buffer.allocUnsafe(this.lib.dOut);
        const [ret, produced, consumed] = this.dctx.decompressStream(out, src);
        src = src.subarray(consumed);
        const room = produced > 0 ? this.push(out.subarray(0, produced)) : true;
        // All input taken and the output not filled: the decoder has nothing more to give for now.
        if (src.length === 0 && (produced < out.length || ret === 0)) {
          this.inFrame = ret !== 0;
          break;
        }
        if (!room) {
          this.pending = { src, done };
          return;
        }
      }
    } catch (e) {
      done(new PlaitError(ErrorCodes.E_INVALID, `zstd: corrupt data: ${(e as Error).message}`, { cause: e }));
      return;
    }
    done();
  }

  override _read(size: number): void {
    const p = this.pending;
    if (p !== undefined) {
      this.pending = undefined;
      this.pump(p.src, p.done);
      // The rest of the chunk may have produced nothing to push. Transform then parks the writer's callback until
      // the next _read, but a _read that pushed nothing leaves the stream "reading" and no further _read comes: a
      // deadlock. The chunk is consumed, so release the writer now (Transform's own _read does exactly that).
      if (this.pending === undefined) super._read(size);
      return;
    }
    super._read(size);
  }

  override _flush(done: TransformCallback): void {
    if (this.inFrame) {
      done(new PlaitError(ErrorCodes.E_INVALID, 'zstd: the data ends in the middle of a frame (truncated)'));
      return;
    }
    done();
  }
}

/**
 * A pass-through that hands each chunk on in a later turn of the event loop. node:zlib pushes a decompressed chunk
 * and only then starts inflating the next one on the thread pool; pushing runs the whole synchronous downstream
 * (hashing, zstd) first, so inflating and the main thread's work would strictly alternate. Behind this stage the
 * push returns at once and both run at the same time (gzip → zstd with 2 zstd workers on a busy 2-core machine,
 * best of 7: 'semi' data +24 %, random data +8 %). At most `highWaterMark` (1 MiB) waits here.
 */
export class AsyncBoundary extends Transform {
  constructor() {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    setImmediate(() => done(null, chunk));
  }
}

/** A pass-through that hands on its input in chunks of at least `size` bytes (the last one may be shorter). */
export class Coalesce extends Transform {
  private parts: Buffer[] = [];
  private length = 0;

  constructor(private readonly size: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.parts.push(chunk);
    this.length += chunk.length;
    if (this.length >= this.size) {
      done(null, this.release());
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.length > 0) this.push(this.release());
    done();
  }

  // What is held, as one buffer (a single part as it is, not copied), and nothing held any more.
  private release(): Buffer {
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    return out;
  }
}

/** A pass-through that feeds every chunk to `hasher` (e.g. the diffID of the uncompressed layer). */
export class HashingTap extends Transform {
  constructor(private readonly hasher: DigestingHasher) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hasher.update(chunk);
    done(null, chunk);
  }
}

/**
 * The first `n` bytes of a stream without losing them: reads until `n` bytes (or the end) are buffered and puts them
 * back with unshift, so the same stream can then be piped from its start. A stream shorter than `n` has ended by then
 * and cannot take bytes back; it is replaced by a stream of what it held. Errors of the stream reject.
 */
export function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const finish = (ended: boolean) => {
      if (settled) return;
      settled = true;
      cleanup();
      const all = Buffer.concat(chunks, length);
      if (ended) {
        resolve({ head: all.subarray(0, n), stream: Readable.from(all.length > 0 ? [all] : [], { objectMode: false }) });
        return;
      }
      stream.unshift(all);
      // Between this resolve and the caller's pipe the stream may fail (a connection reset right after the first
      // bytes); without a listener that would be an uncaught 'error'. The failure is not lost: the stream is left
      // destroyed with it, and pipeline()/finished() report it as soon as the caller attaches.
      stream.on('error', () => undefined);
      resolve({ head: all.subarray(0, n), stream });
    };
    const onReadable = () => {
      let c: unknown;
      while (length < n && (c = stream.read()) !== null) {
        const buf = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
        chunks.push(buf);
        length += buf.length;
      }
      if (length >= n) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (e: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
