import { readFileSync } from 'node:fs';
import { mkdir, open, stat, readFile, writeFile, utimes, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { errnoCode, storeError } from './layout.js';
import { KeyedMutex } from './mutex.js';
import { sweepTempFiles } from './sweep.js';
import type { lock as LockFn } from 'proper-lockfile';

// proper-lockfile (with graceful-fs, which patches a copy of node:fs and loads node:assert) costs ~15–20 ms of start-up;
// a run that only reads the store (plan, a no-op apply, inspect) never takes a lock, so it is loaded at the first one.
// It is CommonJS and is required, not import()ed: an import() starts Node's ES module loader (its modules, and an
// asynchronous resolve, load and link), which was ~45 ms of a cold apply's critical path here for one package.
let lockFn: typeof LockFn | undefined;
function properLock(): typeof LockFn {
  lockFn ??= (createRequire(import.meta.url)('proper-lockfile') as { lock: typeof LockFn }).lock;
  return lockFn;
}

/**
 * Load the lock code now, for a caller that knows a lock is coming and is about to wait on the network: the ~5–6 ms
 * of loading then pass while the replies travel instead of before the first lock (a cold apply's first store write).
 * Scheduled, not run here, so that the requests its caller starts next are sent first.
 */
export function warmLocks(): void {
  if (lockFn !== undefined) return;
  setImmediate(() => {
    try {
      properLock();
    } catch {
      // The first lock will load it again and report what fails.
    }
  });
}

// Exclusive, cross-process lock on a target file (containers/storage's digest lock, §8), built from proper-lockfile's
// mkdir lock plus an in-process queue. Unlike the fcntl lock podman uses, a mkdir lock survives its holder's death, so
// a holder refreshes the lock dir's mtime every `update` ms and a lock older than `stale` ms is taken over.

export interface LockOptions {
  /** Upper bound on the total wait (in-process queue plus file lock); default 60 s. 0 means one attempt. */
  timeoutMs?: number;
  /** Age after which a lock dir whose holder stopped refreshing it is taken over; default 30 s, at least 2 s. */
  stale?: number;
  /** Refresh interval of a held lock; default min(5 s, stale/2), clamped by proper-lockfile to [1 s, stale/2]. */
  update?: number;
  /** How the locked thing is named in E_LOCKED messages. */
  label?: string;
}

/** Called with the lock held. The signal aborts (reason: an E_LOCKED PlaitError) if the lock is lost meanwhile. */
export type LockedFn<T> = (signal: AbortSignal) => Promise<T> | T;

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
export const DEFAULT_STALE_MS = 30_000;
const MIN_STALE_MS = 2_000;
const MIN_DELAY_MS = 25;
const MAX_DELAY_MS = 500;
const DELAY_FACTOR = 1.2;

const localLocks = new KeyedMutex();

function lockedError(subject: string, lockDir: string, timeoutMs: number, holder: string): PlaitError {
  return new PlaitError(ErrorCodes.E_LOCKED, `${subject} is locked by ${holder} (${lockDir})`, {
    retryable: true,
    details: { lockPath: lockDir, timeoutMs },
  });
}

/** Lock dirs this process has swept of temp files (earlier versions made a target with a temp file and a rename,
 * and a writer killed in between left one). */
const sweptDirs = new Set<string>();

async function ensureTarget(target: string): Promise<void> {
  const dir = dirname(target);
  if (!sweptDirs.has(dir)) {
    sweptDirs.add(dir);
    await sweepTempFiles(dir);
  }
  try {
    await stat(target);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw storeError('cannot stat lock file', target, e);
    // The target is an empty file that only names the lock (its lock dir is `<target>.lock`): its bytes are never
    // read and a crash that loses it loses nothing, so it is created in place (appending: racing creators are fine),
    // without the temp file, rename and fsyncs a data file gets.
    try {
      await mkdir(dirname(target), { recursive: true });
      await (await open(target, 'a')).close();
    } catch (e2) {
      throw storeError('cannot create lock file', target, e2);
    }
  }
}

/**
 * Runs `fn` holding the lock on `target` (lock dir `<target>.lock`). `subject` names the locked thing in errors,
 * e.g. `list foo`. If the lock is compromised while `fn` runs (its dir removed or taken over), the signal aborts and
 * the call fails with E_LOCKED once `fn` has settled, even if `fn` itself succeeded: its writes may have raced.
 */
export async function withFileLock<T>(target: string, subject: string, fn: LockedFn<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = Math.max(0, options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  const deadline = Date.now() + timeoutMs;
  const lockDir = `${target}.lock`;
  const releaseLocal = await localLocks.acquire(target, timeoutMs);
  if (releaseLocal === undefined) throw lockedError(subject, lockDir, timeoutMs, 'another task in this process');
  try {
    const controller = new AbortController();
    let lost: PlaitError | undefined;
    const onCompromised = (err: Error): void => {
      // The default handler throws from a timer callback, which would crash the whole process.
      lost ??= new PlaitError(ErrorCodes.E_LOCKED, `${subject}: lost the lock while working (${lockDir}): ${err.message}`, {
        retryable: true,
        cause: err,
        details: { lockPath: lockDir },
      });
      controller.abort(lost);
    };
    const release = await acquireFileLock(target, subject, lockDir, deadline, timeoutMs, options, onCompromised);
    let result: T;
    try {
      result = await fn(controller.signal);
    } catch (e) {
      throw lost ?? e;
    } finally {
      // After a compromise proper-lockfile reports ERELEASED; any other release failure leaves a lock dir that goes
      // stale on its own, which must not turn a completed mutation into a reported failure.
      await release().catch(() => undefined);
    }
    if (lost !== undefined) throw lost;
    return result;
  } finally {
    releaseLocal();
  }
}

async function acquireFileLock(
  target: string,
  subject: string,
  lockDir: string,
  deadline: number,
  timeoutMs: number,
  options: LockOptions,
  onCompromised: (err: Error) => void,
): Promise<() => Promise<void>> {
  await ensureTarget(target);
  const stale = Math.max(MIN_STALE_MS, options.stale ?? DEFAULT_STALE_MS);
  const update = options.update ?? Math.min(5_000, stale / 2);
  // Retries are driven here rather than by proper-lockfile's `retries`: a retry count cannot express a wall-clock
  // bound, and racing its pending attempt against a timer could leave a late-won lock held with nobody to release it.
  let delay = MIN_DELAY_MS;
  for (;;) {
    try {
      const release = await properLock()(target, { stale, update, realpath: false, retries: 0, onCompromised });
      await recordOwner(target, lockDir);
      return async () => {
        // The record goes before the lock does, so a record that outlives its lock belongs to a holder that died.
        await unlink(ownerFile(target)).catch(() => undefined);
        await release();
      };
    } catch (e) {
      if (errnoCode(e) !== 'ELOCKED') throw storeError('cannot lock', lockDir, e);
    }
    // A holder that died (SIGKILL, OOM) leaves its lock dir behind; when it was this host's process and is gone, age
    // the dir so proper-lockfile takes it over now instead of after `stale` — as fast as the kernel drops fcntl locks.
    if (await ownerIsDead(target, lockDir)) {
      await utimes(lockDir, 0, 0).catch(() => undefined);
      continue;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw lockedError(subject, lockDir, timeoutMs, 'another process');
    // Jitter keeps contending processes from retrying in lock step.
    await sleep(Math.min(remaining, delay * (1 + Math.random() * 0.5)));
    delay = Math.min(MAX_DELAY_MS, delay * DELAY_FACTOR);
  }
}

// ---- holder identity, for taking over the locks of dead processes at once ----

interface Owner { host: string; pid: number; start: string; ino: number }

/** The process start time from /proc, so that a reused PID is not mistaken for the holder. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function ownerFile(target: string): string {
  return `${target}.owner`;
}

async function recordOwner(target: string, lockDir: string): Promise<void> {
  try {
    // The lock dir's inode ties this record to this lock (see ownerIsDead for why that alone is not enough).
    const ino = (await stat(lockDir)).ino;
    const owner: Owner = { host: hostname(), pid: process.pid, start: startTime(process.pid), ino };
    await writeFile(ownerFile(target), JSON.stringify(owner));
  } catch {
    // Without the record the lock still works; it only goes stale the slow way.
  }
}

async function ownerIsDead(target: string, lockDir: string): Promise<boolean> {
  try {
    const [st, text] = await Promise.all([stat(lockDir), readFile(ownerFile(target), 'utf8')]);
    const o = JSON.parse(text) as Owner;
    if (o.ino !== st.ino || o.host !== hostname() || o.pid === process.pid) return false;
    // A filesystem may give a new lock dir the inode of a removed one, so a dead holder's record could seem to name a
    // lock another process has just taken and not yet recorded. A lock dir that young is never taken over: its new
    // holder records itself within milliseconds, and a dead holder's lock waits at most a second more.
    if (Date.now() - st.mtimeMs < 1000) return false;
    try {
      process.kill(o.pid, 0);
    } catch (e) {
      return errnoCode(e) === 'ESRCH';
    }
    // Alive under that PID — unless the PID was reused by another process since.
    const now = startTime(o.pid);
    return o.start !== '' && now !== '' && now !== o.start;
  } catch {
    return false;
  }
}
