import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Running one measured command: wall time from spawn to exit (hrtime), peak RSS from GNU time's `-v` report (the
// kernel's ru_maxrss of the child, and of its waited-for children), stdout/stderr kept (capped) for diagnostics.
// Without /usr/bin/time, VmHWM is polled from /proc/<pid>/status instead (a slight under-estimate).

export const GNU_TIME = '/usr/bin/time';
const HAVE_TIME = existsSync(GNU_TIME);
const OUTPUT_CAP = 1 << 20;

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the process group after this long (default 10 min). */
  timeoutMs?: number;
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
}

export interface RunResult {
  wallMs: number;
  /** Peak resident set size in KiB (0 when unknown). */
  rssKiB: number;
  /** User + system CPU seconds (0 when unknown). */
  cpuS: number;
  code: number;
  stdout: string;
  stderr: string;
}

let seq = 0;

function tail(s: string, lines = 8): string {
  return s.trim().split('\n').slice(-lines).join('\n');
}

function capPush(chunks: Buffer[], size: { n: number }, chunk: Buffer): void {
  if (size.n >= OUTPUT_CAP) return;
  chunks.push(chunk);
  size.n += chunk.length;
}

async function pollHwm(pid: number, done: () => boolean): Promise<number> {
  let hwm = 0;
  for (let i = 0; i < 600_000 && !done(); i++) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      if (m) hwm = Math.max(hwm, Number(m[1]));
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return hwm;
}

/** Run `cmd args` measured; rejects with the command's stderr tail on a non-zero exit unless allowFail. */
export async function measure(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeFile = join(tmpdir(), `plait-bench-time-${process.pid}-${seq++}`);
  const argv = HAVE_TIME ? ['-v', '-o', timeFile, cmd, ...args] : args;
  const exe = HAVE_TIME ? GNU_TIME : cmd;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const outSize = { n: 0 };
  const errSize = { n: 0 };
  const t0 = process.hrtime.bigint();
  const child = spawn(exe, argv, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout.on('data', (c: Buffer) => capPush(out, outSize, c));
  child.stderr.on('data', (c: Buffer) => capPush(err, errSize, c));
  let exited = false;
  const hwm = !HAVE_TIME && child.pid !== undefined ? pollHwm(child.pid, () => exited) : Promise.resolve(0);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // Our own child leads its own process group (detached): end exactly that group.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, opts.timeoutMs ?? 600_000);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  exited = true;
  clearTimeout(timer);
  let rssKiB = await hwm;
  let cpuS = 0;
  let timeReport = '';
  if (HAVE_TIME) {
    try {
      timeReport = await readFile(timeFile, 'utf8');
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(timeReport);
      if (m) rssKiB = Number(m[1]);
      const user = /User time \(seconds\): ([\d.]+)/.exec(timeReport);
      const sys = /System time \(seconds\): ([\d.]+)/.exec(timeReport);
      cpuS = Number(user?.[1] ?? 0) + Number(sys?.[1] ?? 0);
    } catch {
      // time could not write its report (killed): leave rss at 0
    }
    await rm(timeFile, { force: true });
  }
  const stdout = Buffer.concat(out).toString('utf8');
  let stderr = Buffer.concat(err).toString('utf8');
  if (timedOut) stderr += `\n[bench] killed after ${opts.timeoutMs ?? 600_000} ms`;
  if (code !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')}… exited ${code}:\n${tail(stderr || stdout)}`);
  }
  return { wallMs, rssKiB, cpuS, code, stdout, stderr };
}

/** Run a helper command that is not measured; returns stdout, rejects with the stderr tail. */
export async function sh(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await measure(cmd, args, opts);
  return r.stdout;
}
