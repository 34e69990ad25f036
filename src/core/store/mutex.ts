// proper-lockfile is not re-entrant: a second lock() on the same file from this process fails with ELOCKED instead of
// waiting. This queue makes tasks of one process wait their turn (FIFO) before they touch the file lock at all.

interface Waiter {
  grant(): void;
}

// setTimeout treats delays above 2^31-1 ms as 1 ms; longer waits are simply unbounded.
const MAX_TIMER_MS = 2 ** 31 - 1;

export class KeyedMutex {
  // A key is present while held; its array holds the tasks waiting behind the holder.
  private readonly queues = new Map<string, Waiter[]>();

  /** Resolves to a release function, or to undefined when `timeoutMs` passes before the key is free. */
  acquire(key: string, timeoutMs: number): Promise<(() => void) | undefined> {
    const queue = this.queues.get(key);
    if (queue === undefined) {
      this.queues.set(key, []);
      return Promise.resolve(this.releaser(key));
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        grant: () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve(this.releaser(key));
        },
      };
      queue.push(waiter);
      if (timeoutMs <= MAX_TIMER_MS) {
        timer = setTimeout(() => {
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
          resolve(undefined);
        }, Math.max(0, timeoutMs));
      }
    });
  }

  isHeld(key: string): boolean {
    return this.queues.has(key);
  }

  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = this.queues.get(key);
      const next = queue?.shift();
      if (next === undefined) this.queues.delete(key);
      else next.grant();
    };
  }
}
