import { pipeline, Transform } from 'node:stream';
import type { Readable, TransformCallback } from 'node:stream';
import { splitVerified, VerifyingStream } from '../../transports/verify.js';

// Byte-level progress of a blob stream, throttled: a pass-through that adds up chunk sizes and reports the sum at
// most every `intervalMs`, so a 200 MiB/s copy costs a clock read per chunk and ~10 callbacks a second, not one per
// chunk. What is still pending when the stream ends is left to the caller, who tops a blob up to its size anyway.

function throttled(report: (bytes: number) => void, intervalMs: number): (chunk: Buffer) => void {
  let pending = 0;
  let last = 0;
  return (chunk) => {
    pending += chunk.length;
    const now = performance.now();
    if (now - last >= intervalMs) {
      last = now;
      const n = pending;
      pending = 0;
      report(n);
    }
  };
}

class ByteTap extends Transform {
  constructor(private readonly count: (chunk: Buffer) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count(chunk);
    cb(null, chunk);
  }
}

/**
 * `stream` with its bytes counted into `report` (throttled). Errors and destruction of `stream` reach the returned
 * stream, so whoever consumes it fails as it would have on `stream` itself. A VerifyingStream gives a VerifyingStream.
 */
export function metered(stream: Readable, report: (bytes: number) => void, intervalMs = 100): Readable {
  const count = throttled(report, intervalMs);
  // A verified source stays one (a copy that hashes nothing again), so the upload does not hash every byte twice.
  if (stream instanceof VerifyingStream) return splitVerified(stream, 1, count)[0]!;
  const tap = new ByteTap(count);
  pipeline(stream, tap, () => undefined);
  return tap;
}
