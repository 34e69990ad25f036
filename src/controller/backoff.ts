// Jittered exponential backoff: each failure doubles the wait up to a cap, with ±20% jitter so that many objects
// failing together (a registry outage) do not retry in lockstep.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export class Backoff {
  private failures = 0;
  constructor(private readonly opts: BackoffOptions) {}

  next(): number {
    const raw = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 40);
    return Math.round(raw * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}

/** Resolves after ms, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
