import { availableParallelism } from 'node:os';
import { pipeline } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Readable, Transform } from 'node:stream';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { DigestingHasher } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/types.js';
import { Semaphore } from '../../transports/registry/semaphore.js';
import type { BlobDescriptor, BlobLocation, ImageDestination, ImageSource } from '../../transports/types.js';
import { compressionOfMediaType, detectCompression, MAGIC_BYTES, ociLayerMediaTypeFor } from './detect.js';
import type { Algorithm, Compression } from './detect.js';
import { metered } from '../copy/progress.js';
import { AsyncBoundary, Coalesce, compressor, decompressor, effectiveLevel, HashingTap, peek } from './streams.js';

// One layer into another compression, as a stream from source to destination: source blob (verified by the source
// transport as it flows) → decompress (by what the first bytes say) → hash the tar (the diffID) → compress → upload
// with the digest computed on the way. No temporary file and no whole-blob buffer: a registry takes the upload as a
// chunked PATCH, an OCI layout writes its own temp file and renames it once the digest is known.

export interface RecompressResult {
  digest: Digest;
  size: number;
  /** The OCI layer media type of the result (…tar+zstd, …tar+gzip, nondistributable flavour kept). */
  mediaType: string;
  /** sha256 of the uncompressed layer; set whenever the bytes were decompressed (not for a layer kept as it is). */
  diffId?: Digest;
  /** False when the layer already was in the target compression and was only made present at the destination. */
  recompressed: boolean;
}

export interface RecompressOptions {
  /** zstd worker threads (default streams.defaultZstdWorkers()). */
  workers?: number;
  /** Aborting stops the transfer; the upload then fails and nothing is committed. */
  signal?: AbortSignal;
  /** Source bytes read so far, reported throttled (see copy/progress.ts) while a layer is recompressed. */
  onBytes?: (bytes: number) => void;
}

/**
 * Layers recompressed from a source at once in this process (recompressBlob), whatever the callers' job counts: one
 * per two cores, since each keeps about two cores busy (its zstd worker, and the main thread's share: three SHA-256s,
 * the inflate callbacks, HTTP). More at once only makes them compete for the cores, and every stream in flight holds
 * its compressor's job buffers: 4 at once on a 2-core machine peaked at ~160–180 MiB RSS, 1 at ~110 MiB, for less
 * CPU. Streams fed by a copy's own read (recompressStream, the tee) are not counted: waiting for a slot there would
 * stall the plain copy that shares the read.
 */
export const RECOMPRESS_SLOTS = Math.max(1, Math.floor(availableParallelism() / 2));
const recompressSlots = new Semaphore(RECOMPRESS_SLOTS);

function sameLocation(a: BlobLocation, b: BlobLocation): boolean {
  return a.transport === b.transport && a.host === b.host && a.repository === b.repository;
}

/**
 * Make a blob present at `dest` moving as few bytes as possible: already there → nothing; else a mount from each
 * of `from` (default: the source's own location) in turn; else a verified stream from `src`. Returns how.
 */
export async function ensureBlobPresent(
  src: ImageSource,
  dest: ImageDestination,
  desc: BlobDescriptor,
  from: readonly BlobLocation[] = [src.location],
  signal?: AbortSignal,
): Promise<'present' | 'mounted' | 'copied'> {
  signal?.throwIfAborted();
  if (await dest.hasBlob(desc)) return 'present';
  for (const loc of from) {
    if (sameLocation(loc, dest.location)) continue;
    if (await dest.mountBlob(desc, loc)) return 'mounted';
  }
  signal?.throwIfAborted();
  const stream = await src.getBlob(desc);
  await withAbort(stream, signal, () => dest.putBlob(stream, desc));
  return 'copied';
}

// Run `fn` (which consumes `stream`) so that an abort destroys the stream; the consumer then fails.
async function withAbort<T>(stream: Readable, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  if (signal === undefined) return fn();
  const stop = () => {
    stream.on('error', () => undefined);
    stream.destroy(new PlaitError(ErrorCodes.E_INTERNAL, 'stopped: another transfer of this operation failed'));
  };
  if (signal.aborted) stop();
  signal.addEventListener('abort', stop, { once: true });
  try {
    return await fn();
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/**
 * Recompress one layer of `src` to `target` at `level` and store the result at `dest`. A layer whose media type
 * already announces `target` is not read at all: it is made present (present / mounted / copied) and returned as it
 * is. A layer whose bytes turn out to be in `target` already (a mislabelled type) is likewise kept.
 */
export async function recompressBlob(
  src: ImageSource,
  dest: ImageDestination,
  layer: Descriptor,
  target: Algorithm,
  level?: number,
  opts: RecompressOptions = {},
): Promise<RecompressResult> {
  // Fails (E_UNSUPPORTED) on a type that is not a layer before any byte moves.
  const mediaType = ociLayerMediaTypeFor(layer.mediaType, target);
  const desc: BlobDescriptor = { digest: layer.digest, size: layer.size };
  if (compressionOfMediaType(layer.mediaType) === target) {
    await ensureBlobPresent(src, dest, desc, [src.location], opts.signal);
    return { digest: layer.digest, size: layer.size, mediaType, recompressed: false };
  }
  // An invalid level must fail before a connection is opened, and before waiting for a slot.
  effectiveLevel(target, level);
  const release = await recompressSlots.acquire();
  try {
    const out = layerCompressor(target, level, opts);
    opts.signal?.throwIfAborted();
    const raw = await src.getBlob(desc);
    // The slot is given up once the source is read and compressed: the rest of the upload and its commit (a PATCH
    // reply and a PUT) then overlap with the next layer's GET and upload POST instead of leaving the cores idle
    // between layers (~25 ms per layer on loopback; the 4-platform zstd case, medians of 10: 3.00 → 2.80 s wall).
    return await recompressFrom(raw, dest, layer, target, mediaType, out, opts, 'store', release);
  } finally {
    release();
  }
}

/**
 * Recompress the layer whose bytes `raw` is (a verified stream of `layer`, say one copy of a read that also feeds the
 * layer's plain copy) and store the result at `dest`: the same bytes recompressBlob makes, for the same target and
 * level. Bytes already in `target` are not stored again (the plain copy does that): the stream is read to its end.
 */
export async function recompressStream(
  raw: Readable,
  dest: ImageDestination,
  layer: Descriptor,
  target: Algorithm,
  level?: number,
  opts: RecompressOptions = {},
): Promise<RecompressResult> {
  let mediaType, out;
  try {
    mediaType = ociLayerMediaTypeFor(layer.mediaType, target);
    if (compressionOfMediaType(layer.mediaType) === target) {
      // Kept as it is, unread, as recompressBlob keeps it: the plain copy is the variant.
      raw.resume();
      await withAbort(raw, opts.signal, () => finished(raw));
      return { digest: layer.digest, size: layer.size, mediaType, recompressed: false };
    }
    out = layerCompressor(target, level, opts);
  } catch (e) {
    raw.destroy();
    throw e;
  }
  return recompressFrom(raw, dest, layer, target, mediaType, out, opts, 'drain');
}

/** The compressor for one layer: `level` checked (E_INVALID), zstd workers as the caller asks (default: defaultZstdWorkers). */
function layerCompressor(target: Algorithm, level: number | undefined, opts: RecompressOptions): Transform {
  return compressor(target, { ...(level !== undefined && { level }), ...(opts.workers !== undefined && { workers: opts.workers }) });
}

async function recompressFrom(
  raw: Readable,
  dest: ImageDestination,
  layer: Descriptor,
  target: Algorithm,
  mediaType: string,
  out: Transform,
  opts: RecompressOptions,
  asIs: 'store' | 'drain',
  onSourceDone?: () => void,
): Promise<RecompressResult> {
  const desc: BlobDescriptor = { digest: layer.digest, size: layer.size };
  let peeked: { head: Buffer; stream: Readable };
  try {
    peeked = await peek(raw, MAGIC_BYTES);
  } catch (e) {
    raw.destroy();
    out.destroy();
    throw e;
  }
  const detected = detectCompression(peeked.head);
  if (detected === target) {
    out.destroy();
    if (asIs === 'drain') {
      peeked.stream.resume();
      await withAbort(peeked.stream, opts.signal, () => finished(peeked.stream));
    } else if (await dest.hasBlob(desc)) {
      peeked.stream.destroy();
    } else {
      await withAbort(peeked.stream, opts.signal, () => dest.putBlob(peeked.stream, desc));
    }
    return { digest: layer.digest, size: layer.size, mediaType, recompressed: false };
  }

  // Made before the pipeline: a decoder that cannot be made (zstd without its binding) fails this layer here, with
  // both streams let go, instead of inside the pipeline's promise, where the upload would wait for bytes forever.
  let decode: Transform;
  try {
    decode = decompressor(detected);
  } catch (e) {
    peeked.stream.destroy();
    out.destroy();
    throw e;
  }
  const diff = new DigestingHasher('sha256');
  // The pipeline's first error is the one to report: a digest mismatch at the source, a corrupt gzip stream. It
  // destroys every stage, `out` included, which fails the upload; the upload's own error then only says "aborted".
  let chainError: Error | undefined;
  const chainDone = new Promise<void>((resolve) => {
    const input = opts.onBytes === undefined ? peeked.stream : metered(peeked.stream, opts.onBytes);
    pipeline([input, ...inflateInput(detected), decode, new AsyncBoundary(), new HashingTap(diff), out], (err) => {
      if (err) chainError ??= err;
      onSourceDone?.();
      resolve();
    });
  });
  let put;
  try {
    put = await withAbort(peeked.stream, opts.signal, () => dest.putBlob(out, { size: -1 }));
  } catch (e) {
    // The destination gave up (HTTP error, disk full): stop reading the source too.
    if (!out.destroyed) out.destroy(e instanceof Error ? e : undefined);
    await chainDone;
    throw chainError !== undefined && !isPrematureClose(chainError) ? chainError : toError(e);
  }
  await chainDone;
  if (chainError !== undefined) throw chainError;
  return { digest: put.digest, size: put.size, mediaType, diffId: diff.digest(), recompressed: true };
}

/**
 * What goes before the decompressor. node:zlib runs each write on the libuv pool and calls back on the main thread: with
 * the source's 64 KiB socket reads that is ~4000 round trips for 256 MiB, which cost the main thread more than the
 * inflating itself (processChunk ~170 ms in the 4-platform zstd case's CPU profile). 1 MiB pieces cost one copy of the
 * bytes and run 16 times fewer; measured there (medians of 12, alternated): wall 3.06 → 2.69 s, CPU 2.81 → 2.38 s,
 * peak RSS 105 → 112 MiB. 512 KiB was slower (2.82 s), 2 MiB much slower (its buffers started external-memory GCs).
 * zstd's decoder runs on the calling thread; it gets the chunks as they come.
 */
function inflateInput(c: Compression): Transform[] {
  return c === 'gzip' ? [new Coalesce(1024 * 1024)] : [];
}

function isPrematureClose(e: Error): boolean {
  return (e as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
