import { readdir, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

// Best-effort removal of what crashed writers leave behind: writeFileAtomic temp files (`.<name>.tmp-<pid>-<rand>`)
// and half-built or half-deleted record dirs (`.new-*`, `.del-*`). Only entries older than a minute go, so a writer
// that is still working is never disturbed. Failures are ignored: debris is harmless, readers never look at it.

export const DEBRIS_AGE_MS = 60_000;
const TEMP_RE = /^\..+\.tmp-/;
const RECORD_DEBRIS_RE = /^\.(?:new|del)-/;

async function oldEnough(path: string, now: number, maxAgeMs: number): Promise<boolean> {
  try {
    return (await stat(path)).mtimeMs < now - maxAgeMs;
  } catch {
    return false;
  }
}

export async function sweepTempFiles(dir: string, maxAgeMs = DEBRIS_AGE_MS): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
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
