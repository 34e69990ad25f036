import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, lstat, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { runPlait } from '../../helpers/cli.js';
import type { PlaitRun } from '../../helpers/cli.js';

// The hostile corpus: every case must end in exit 1 and exactly one line on stderr saying what is wrong and where,
// with nothing written — neither in the store (a populated one, compared byte for byte before and after) nor at any
// destination the case names.

export const CORPUS = fileURLToPath(new URL('../../fixtures/hostile/', import.meta.url));

export async function readJson<T>(rel: string): Promise<T> {
  return JSON.parse(await readFile(join(CORPUS, rel), 'utf8')) as T;
}

/** Every file under `dir` (symlinks as their target text) with a hash of its bytes, in sorted order. */
export async function snapshot(dir: string): Promise<string> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: string[];
    try {
      entries = (await readdir(join(dir, rel))).sort();
    } catch {
      out.push(`${rel}: (none)`);
      return;
    }
    for (const e of entries) {
      const p = join(dir, rel, e);
      const s = await lstat(p);
      if (s.isSymbolicLink()) out.push(`${rel}/${e} -> ${await readlink(p)}`);
      // A FIFO planted by a hostile case would block a read: its presence is what counts.
      else if (s.isFIFO()) out.push(`${rel}/${e} (fifo)`);
      else if (s.isDirectory()) await walk(`${rel}/${e}`);
      else out.push(`${rel}/${e} ${createHash('sha256').update(await readFile(p)).digest('hex')}`);
    }
  };
  await walk('');
  return out.join('\n');
}

export interface Sandbox {
  dir: string;
  store: string;
  env: NodeJS.ProcessEnv;
  plait(args: string[], opts?: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv }): Promise<PlaitRun>;
}

function sandboxAt(dir: string): Sandbox {
  const store = join(dir, 'store');
  const env = { PLAIT_STORE: store, PLAIT_REGISTRY_TIMEOUT: '5', HOME: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: join(dir, 'config'), REGISTRY_AUTH_FILE: join(dir, 'no-auth.json') };
  return {
    dir, store, env,
    plait: (args, opts = {}) => runPlait(args, { env: { ...env, ...opts.env }, cwd: opts.cwd ?? dir, ...(opts.input !== undefined && { input: opts.input }) }),
  };
}

/** A working directory with a store that already holds one list (so "unchanged" means something). */
export async function sandbox(): Promise<Sandbox> {
  const sb = sandboxAt(await mkdtemp(join(tmpdir(), 'plait-hostile-')));
  const r = await sb.plait(['manifest', 'create', 'keep']);
  if (r.code !== 0) throw new Error(`manifest create: ${r.stderr}`);
  return sb;
}

export interface Sandboxes {
  /**
   * Run `fn` in a fresh sandbox of its own — a byte-for-byte copy of one that plait populated (the store holds no
   * paths) — and remove it once `fn` passed (a failed case's is kept to look at).
   */
  use(fn: (sb: Sandbox) => Promise<void>): Promise<void>;
  /** Remove the populated template the cases were copied from. */
  close(): Promise<void>;
}

/**
 * One sandbox per case, so that a case's snapshots hash only its own files (not every earlier case's layouts and
 * big documents) and cases can run concurrently. The populated store is made once by plait, then copied.
 */
export async function sandboxes(): Promise<Sandboxes> {
  const template = await sandbox();
  return {
    async use(fn) {
      const dir = await mkdtemp(join(tmpdir(), 'plait-hostile-'));
      await cp(template.dir, dir, { recursive: true, verbatimSymlinks: true });
      await fn(sandboxAt(dir));
      await rm(dir, { recursive: true, force: true });
    },
    close: () => rm(template.dir, { recursive: true, force: true }),
  };
}

/** Exit 1, one line on stderr (matching `line` when given), no stack trace, nothing on stdout. */
export function expectOneLine(r: PlaitRun, line?: RegExp): string {
  const err = r.stderr.replace(/\n$/, '');
  expect({ code: r.code, lines: err.split('\n').length, stack: /\n\s+at /.test(err) }, err).toEqual({ code: 1, lines: 1, stack: false });
  expect(err.length, err).toBeGreaterThan(10);
  expect(err.length, 'one line, not a dump').toBeLessThan(600);
  if (line) expect(err).toMatch(line);
  return err;
}

/** Run `fn`, then check that nothing under the sandbox changed except what `ignore` names. */
export async function nothingWritten(sb: Sandbox, fn: () => Promise<void>): Promise<void> {
  const before = await snapshot(sb.dir);
  await fn();
  expect(await snapshot(sb.dir)).toBe(before);
}

export const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
