import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
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

/** Start `cmd args` with stdout+stderr appended to logFile, supervised so that it cannot outlive this process. */
export function supervise(cmd: string, args: string[], logFd: number, env?: NodeJS.ProcessEnv): Supervised {
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
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
