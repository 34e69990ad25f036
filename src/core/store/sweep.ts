import { readdirSync } from 'node:fs';
import { readdir, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

// Best-effort removal of what crashed writers leave behind: writeFileAtomic temp files (`.<name>.tmp-<pid>-<rand>`)
// and half-built or half-deleted record dirs (`.new-*`, `.del-*`). Entries older than a minute go, and so do those whose
// writer (the pid in the name) is no longer running on this machine — a crashed run's debris is gone on the very next
// run, while a writer that is still working is never disturbed. Failures are ignored: readers never look at debris.

export const DEBRIS_AGE_MS = 60_000;
const TEMP_RE = /^\..+\.tmp-/;
const RECORD_DEBRIS_RE = /^\.(?:new|del)-/;
const PID_RE = /(?:\.tmp-|^\.(?:new|del)-[0-9a-f]{64}-)(\d+)-[0-9a-f]+$/;

/** True when the name carries the pid of a process that no longer exists (EPERM: it exists, as someone else). */
function writerGone(name: string): boolean {
  const pid = Number(PID_RE.exec(name)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function oldEnough(path: string, now: number, maxAgeMs: number): Promise<boolean> {
  if (writerGone(path.slice(path.lastIndexOf('/') + 1))) return true;
  try {
    return (await stat(path)).mtimeMs < now - maxAgeMs;
  } catch {
    return false;
  }
}

export async function sweepTempFiles(dir: string, maxAgeMs = DEBRIS_AGE_MS): Promise<void> {
  let entries: string[];
  try {
    // A record or facts dir holds a handful of entries: one synchronous call, not a thread-pool round trip (this runs
    // once per record a run reads, thousands of times in a run of thousands of specs).
    entries = readdirSync(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const entry of entries) {
    if (!TEMP_RE.test(entry)) continue;
    const path = join(dir, entry);
    if (await oldEnough(path, now, maxAgeMs)) await unlink(path).catch(() => undefined);
  }
}

export async function sweepRecordDebris(listsDir: string, maxAgeMs = DEBRIS_AGE_MS): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(listsDir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const entry of entries) {
    if (!RECORD_DEBRIS_RE.test(entry)) continue;
    const path = join(listsDir, entry);
    if (await oldEnough(path, now, maxAgeMs)) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}
