import { open, rename, mkdir, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

// Crash-safe file replacement, shared by the layout transport and the store (a leaf module like errors.ts): write a
// temp file beside the target, fsync it, rename it over the target, fsync the directory. A reader sees the old bytes
// or the new ones, never half of either, even if the process is killed in between. (replaceFile: the same without
// the fsyncs, for caches whose reads are checked.)

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Write a new file and fsync it, without a temp file or rename: for files in a directory that no reader sees yet (a
 * staging dir renamed into place once it is complete), where a half-written file is never read, and for the temp
 * file of writeFileAtomic. A write that fails removes the file. The caller fsyncs the directory.
 */
export function writeNewFileDurable(target: string, data: Buffer | string, mode = 0o644): Promise<void> {
  return writeNewFile(target, data, mode, true);
}

async function writeNewFile(target: string, data: Buffer | string, mode: number, sync: boolean): Promise<void> {
  const fh = await open(target, 'wx', mode);
  try {
    await fh.writeFile(data);
    if (sync) await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(target).catch(() => undefined);
    throw e;
  }
  await fh.close();
}

export function writeFileAtomic(target: string, data: Buffer | string, mode = 0o644): Promise<void> {
  return replace(target, data, mode, true);
}

/**
 * Replace `target` atomically (temp file beside it, then a rename) without making it durable: no fsync of the file or
 * its directory. For caches whose every read is checked (the store's facts): after a crash a reader finds the old
 * file, the new one, or none; a file the kernel had not written out is empty or cut short, fails its check and is
 * a miss. Two fsyncs fewer per write (a cold apply of the 4-platform list writes nine facts).
 */
export function replaceFile(target: string, data: Buffer | string, mode = 0o644): Promise<void> {
  return replace(target, data, mode, false);
}

async function replace(target: string, data: Buffer | string, mode: number, durable: boolean): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  await writeNewFile(tmp, data, mode, durable);
  failpoint('before-rename');
  try {
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (durable) await fsyncDir(dirname(target));
}

const failpointHits = new Map<string, number>();

/**
 * Crash injection for tests: with PLAIT_FAILPOINT=<name> the process kills itself (SIGKILL, no cleanup) when it reaches
 * that point, so tests can prove that a crash there leaves the previous state intact; <name>:<N> kills at the Nth time
 * the point is reached (random crash runs pick N).
 */
export function failpoint(name: string): void {
  const want = process.env.PLAIT_FAILPOINT;
  if (!want) return;
  if (want === name) process.kill(process.pid, 'SIGKILL');
  const colon = want.lastIndexOf(':');
  if (colon < 0 || want.slice(0, colon) !== name) return;
  const n = (failpointHits.get(name) ?? 0) + 1;
  failpointHits.set(name, n);
  if (n === Number(want.slice(colon + 1))) process.kill(process.pid, 'SIGKILL');
}
