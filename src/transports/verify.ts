import { Transform, pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { PlaitError, ErrorCodes } from '../errors.js';
import { DigestingHasher } from '../oci/digest.js';
import type { Digest } from '../oci/digest.js';

// Every blob byte plait reads passes through one of these: it hashes as the bytes flow and fails the stream — before
// its end is signalled — when the digest or the size is not what was asked for, so a consumer that commits only on
// 'finish' never keeps corrupt data.

export class VerifyingStream extends Transform {
  private readonly hasher: DigestingHasher;
  readonly expected: Digest | undefined;
  readonly expectedSize: number;
  private readonly subject: string;

  constructor(expected: Digest | undefined, expectedSize: number, subject: string) {
    // Transform's default 16 KiB buffers stall a registry-to-registry stream on every small chunk; a MiB on each side in
    // flight keep both sockets busy while memory stays bounded.
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.subject = subject;
    this.hasher = new DigestingHasher(expected ? expected.slice(0, expected.indexOf(':')) : 'sha256');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hasher.update(chunk);
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
