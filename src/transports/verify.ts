import { Transform, Writable, pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { PlaitError, ErrorCodes } from '../errors.js';
import { DigestingHasher } from '../oci/digest.js';
import type { Digest } from '../oci/digest.js';
import { readBytes } from './reclaim.js';

// Every blob byte plait reads passes through one of these: it hashes as the bytes flow and fails the stream — before
// its end is signalled — when the digest or the size is not what was asked for, so a consumer that commits only on
// 'finish' never keeps corrupt data.

export class VerifyingStream extends Transform {
  private readonly hasher: DigestingHasher;
  readonly expected: Digest | undefined;
  readonly expectedSize: number;
  readonly subject: string;

  constructor(expected: Digest | undefined, expectedSize: number, subject: string, highWaterMark = 256 * 1024) {
    // Transform's default 16 KiB buffers stall a registry-to-registry stream on every small chunk; 256 KiB on each side
    // keep both sockets busy. More is worse, not better: a chunk queued here outlives the scavenges reclaim.ts asks
    // for, is promoted, and then waits for a mark-compact — with a MiB on each side a 1 GiB copy peaked 88–91 MiB,
    // with 256 KiB 71–72 MiB (the 16 MiB copy: 70–71), at the same throughput.
    super({ readableHighWaterMark: highWaterMark, writableHighWaterMark: highWaterMark });
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.subject = subject;
    this.hasher = new DigestingHasher(expected ? expected.slice(0, expected.indexOf(':')) : 'sha256');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hasher.update(chunk);
    readBytes(chunk.length);
    if (this.expectedSize >= 0 && this.hasher.size > this.expectedSize) {
      cb(new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.subject}: more than the expected ${this.expectedSize} bytes`));
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const got = this.hasher.digest();
    if (this.expectedSize >= 0 && this.hasher.size !== this.expectedSize) {
      cb(new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.subject}: got ${this.hasher.size} bytes, expected ${this.expectedSize}`));
      return;
    }
    if (this.expected && got !== this.expected) {
      cb(new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.subject}: content has digest ${got}, expected ${this.expected}`));
      return;
    }
    cb();
  }

  /** The digest of what went through (valid after the stream ended). */
  get digest(): Digest {
    return this.hasher.digest();
  }

  get size(): number {
    return this.hasher.size;
  }
}

/**
 * The stream to send: `stream` itself when it already verifies this exact digest and size (a source's getBlob) —
 * hashing the same bytes twice would halve the throughput — or a new verifier around it.
 */
export function verified(stream: Readable, digest: Digest | undefined, size: number, subject: string): VerifyingStream {
  if (stream instanceof VerifyingStream && digest !== undefined && stream.expected === digest && (size < 0 || stream.expectedSize === size)) {
    return stream;
  }
  const v = new VerifyingStream(digest, size, subject);
  pipeline(stream, v, () => undefined);
  return v;
}

/**
 * One copy of a verifying stream's bytes (see splitVerified). It hashes nothing: it is fed only by splitVerified's
 * fan-out and ended only after its upstream ended, which a VerifyingStream does only once its own checks passed, and
 * it fails with the upstream; so a consumer can trust it exactly as it trusts the upstream.
 */
class VerifiedCopy extends VerifyingStream {
  private count = 0;

  constructor(private readonly upstream: VerifyingStream) {
    // The upstream's buffers already keep the sockets busy; a copy only hands chunks on (about one held here).
    super(upstream.expected, upstream.expectedSize, upstream.subject, 64 * 1024);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    cb();
  }

  override get digest(): Digest {
    return this.upstream.digest;
  }

  override get size(): number {
    return this.count;
  }
}

class FanOut extends Writable {
  private ended = false;

  constructor(private readonly outs: readonly VerifiedCopy[], private readonly onChunk?: (chunk: Buffer) => void) {
    super();
    // A copy whose consumer gave up stops the read at once, not only when the next chunk would go to it.
    for (const o of outs) {
      o.once('close', () => {
        if (!this.ended && !this.destroyed) this.destroy(o.errored ?? stoppedReading());
      });
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.onChunk?.(chunk);
    const waits: Array<Promise<void>> = [];
    for (const o of this.outs) {
      if (o.destroyed) {
        cb(o.errored ?? stoppedReading());
        return;
      }
      if (!o.write(chunk)) waits.push(drained(o));
    }
    if (waits.length === 0) cb();
    else Promise.all(waits).then(() => cb(), (e: unknown) => cb(e as Error));
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.ended = true;
    for (const o of this.outs) o.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // Destroyed after a clean finish (autoDestroy): the copies are ended and keep what their readers have yet to take.
    if (err !== null || !this.ended) for (const o of this.outs) if (!o.destroyed) o.destroy(err ?? stoppedReading());
    cb(err);
  }
}

const stoppedReading = () => new PlaitError(ErrorCodes.E_INTERNAL, 'a reader of a shared blob stream stopped before its end');

// Resolves when `o` can take more, rejects when it is gone before that (its consumer failed).
function drained(o: VerifyingStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      o.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      o.off('drain', onDrain);
      reject(o.errored ?? stoppedReading());
    };
    o.once('drain', onDrain);
    o.once('close', onClose);
  });
}

/**
 * `count` streams of the bytes of one verifying stream (a tee), each again a VerifyingStream for the same digest and
 * size, so a destination's putBlob takes it without hashing the bytes a second time (see verified()). The slowest
 * copy sets the pace: the upstream is read only as fast as every copy takes its bytes, and each copy holds at most
 * its own buffers (a few hundred KiB), never the blob. A failure of the upstream fails every copy; a copy destroyed by its
 * consumer stops the upstream and so fails the others. `onChunk` sees each chunk once, as it passes.
 */
export function splitVerified(stream: VerifyingStream, count: number, onChunk?: (chunk: Buffer) => void): VerifyingStream[] {
  const outs = Array.from({ length: count }, () => new VerifiedCopy(stream));
  // A copy can fail before its consumer attaches (the other copy's upload was refused while this one's was still
  // being opened); the failure is not lost, the copy stays destroyed with it for the consumer to find.
  for (const o of outs) o.on('error', () => undefined);
  pipeline(stream, new FanOut(outs, onChunk), () => undefined);
  return outs;
}
