import { pipeline, Transform } from 'node:stream';
import type { Readable, TransformCallback } from 'node:stream';

// Byte-level progress of a blob stream, throttled: a pass-through that adds up chunk sizes and reports the sum at
// most every `intervalMs`, so a 200 MiB/s copy costs a clock read per chunk and ~10 callbacks a second, not one per
// chunk. What is still pending when the stream ends is left to the caller, who tops a blob up to its size anyway.

class ByteTap extends Transform {
  private pending = 0;
  private last = 0;

  constructor(private readonly report: (bytes: number) => void, private readonly intervalMs: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending += chunk.length;
    const now = performance.now();
    if (now - this.last >= this.intervalMs) {
      this.last = now;
      const n = this.pending;
      this.pending = 0;
      this.report(n);
    }
    cb(null, chunk);
  }
}

/**
 * `stream` with its bytes counted into `report` (throttled). Errors and destruction of `stream` reach the returned
 * stream, so whoever consumes it fails as it would have on `stream` itself.
 */
export function metered(stream: Readable, report: (bytes: number) => void, intervalMs = 100): Readable {
  const tap = new ByteTap(report, intervalMs);
  pipeline(stream, tap, () => undefined);
  return tap;
}
