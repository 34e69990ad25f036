import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ViolationKind } from './checker.js';

// The pieces of a torture run: a plait process, what a failed one must look like, the spec every run applies, and the
// store audit.

const PLAIT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const PLATFORMS = ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/s390x'];
export const TAGS = ['v1', 'latest'];
/** A run that neither ends nor fails in this long has hung: a violation. */
export const RUN_LIMIT_MS = 180_000;

export interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }

export function plait(args: string[], env: NodeJS.ProcessEnv, opts: { killAfterMs?: number; limitMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PLAIT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    if (opts.killAfterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs));
    timers.push(setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.limitMs ?? RUN_LIMIT_MS));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}

/**
 * What a failed run must look like: exit 1, and one line that says what failed (for apply, the spec's error in the
 * summary table and one `error` event; for the manifest commands, one `plait: …` line) — no stack, no crash.
 */
export function clearFailure(r: Ran): string | undefined {
  if (r.code !== 1) return `exit ${r.code ?? r.signal}`;
  const all = `${r.stdout}\n${r.stderr}`;
  if (/\n\s+at .+:\d+:\d+\)?\n/.test(all) || /Unhandled|TypeError|ReferenceError|RangeError|\[object Object\]|undefined:/.test(all)) {
    return `not a clear failure:\n${all.trim().split('\n').slice(0, 8).join('\n')}`;
  }
  const lines = r.stderr.trim().split('\n').filter((l) => /: failed: |^plait: /.test(l));
  if (lines.length !== 1) return `exit 1 without exactly one line saying why:\n${all.trim().slice(0, 400)}`;
  return undefined;
}

export function oneLine(r: Ran): string {
  const all = r.stderr.trim().split('\n');
  const lines = all.filter((l) => /: failed: /.test(l)).concat(all.filter((l) => /^plait: /.test(l)));
  return (lines.at(-1) ?? r.stderr.trim().split('\n').at(-1) ?? '').slice(0, 240);
}

export function specYaml(name: string, image: string, source: string, opts: { platforms?: string[]; run?: string; keyFile: string; passFile: string; tags?: string[] }): string {
  return [
    'apiVersion: plait.dev/v1alpha1',
    'kind: ManifestList',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  destination:',
    `    image: ${image}`,
    `    tags: [${(opts.tags ?? TAGS).map((t) => JSON.stringify(t)).join(', ')}]`,
    '  sources:',
    `    - image: ${source}`,
    `      platforms: [${(opts.platforms ?? PLATFORMS).join(', ')}]`,
    ...(opts.run ? ['      annotations:', `        dev.plait.torture/run: "${opts.run}"`] : []),
    '  compression:',
    '    variants: [zstd]',
    '  signatures:',
    '    sigstore:',
    `      - privateKey: {file: ${opts.keyFile}}`,
    `        passphrase: {file: ${opts.passFile}}`,
    '',
  ].join('\n');
}

/**
 * Once every writer on a store has ended (the killed one followed by a clean re-run): no writer's temp files or
 * half-made record dirs, no lock dirs or owner records, and every record parses.
 */
export async function auditStore(root: string): Promise<Array<{ kind: ViolationKind; text: string }>> {
  const problems: Array<{ kind: ViolationKind; text: string }> = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      const rel = p.slice(root.length + 1);
      const s = await stat(p).catch(() => undefined);
      if (!s) continue;
      if (/\.tmp-|^\.new-|^\.del-/.test(e)) problems.push({ kind: 'temp-files', text: `store debris left behind: ${rel}` });
      if (/\.lock$|\.owner$/.test(e)) problems.push({ kind: 'stale-lock', text: `lock left behind: ${rel}` });
      if (s.isDirectory()) await walk(p);
      else if (e.endsWith('.json') || e === 'manifest') {
        try {
          JSON.parse(await readFile(p, 'utf8'));
        } catch {
          problems.push({ kind: 'store-corrupt', text: `store file does not parse: ${rel}` });
        }
      }
    }
  };
  await walk(root);
  return problems;
}
