import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

export const execFileP = promisify(execFile);

/** Run a command, returning stdout; on failure the error carries the command's stderr (never its arguments' secrets). */
export async function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; code?: number };
    throw new Error(`${cmd} ${args[0] ?? ''} failed (exit ${err.code ?? '?'}): ${(err.stderr ?? String(e)).trim()}`);
  }
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; the tiny race with another binder is handled by callers retrying). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Supervised {
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code once the supervised process has gone. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

// The registry runs under a tiny shell guardian that holds our pipe: when this Node process dies for any reason
// (a crashed worker, SIGKILL of vitest), the pipe closes, `read` returns and the guardian kills the registry. So no
// registry outlives the suite even when teardown never runs.
const GUARDIAN = '"$@" </dev/null & p=$!; trap \'kill $p 2>/dev/null\' EXIT; read -r _ || true; kill $p 2>/dev/null; wait $p';

/** The direct children of a process (Linux /proc), e.g. the program a guardian runs. */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Start `cmd args` with stdout+stderr appended to logFile, supervised so that it cannot outlive this process.
 * stop() asks for a clean exit (SIGTERM) and waits stopTimeoutMs (5 s by default) before SIGKILL of the program and
 * its guardian: killing only the guardian would leave the program orphaned.
 */
export function supervise(cmd: string, args: string[], logFd: number, env?: NodeJS.ProcessEnv, stopTimeoutMs = 5000): Supervised {
  const child = spawn('sh', ['-c', GUARDIAN, 'guardian', cmd, ...args], {
    stdio: ['pipe', logFd, logFd],
    env: env ?? process.env,
    detached: false,
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid ?? -1,
    child,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      const timer = setTimeout(() => {
        for (const pid of childPids(child.pid ?? -1)) {
          try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
        }
        child.kill('SIGKILL');
      }, stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
