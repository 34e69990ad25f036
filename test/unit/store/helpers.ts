import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, '..', '..', '..');
const CHILD = join(HERE, 'child.ts');

export async function tempRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'plait-store-test-'));
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  proc: ChildProcess;
  /** Resolves once stdout contains `text`; rejects if the child exits first. */
  waitFor(text: string): Promise<void>;
  done: Promise<ChildResult>;
}

export function startChild(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  proc.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const l of listeners) l();
  });
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ChildResult>((resolve) => {
    proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const waitFor = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (stdout.includes(text)) {
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
      check();
      void done.then((r) => reject(new Error(`child exited (${r.code ?? r.signal}) before "${text}": ${r.stderr}`)));
    });
  return { proc, waitFor, done };
}

export function runChild(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildResult> {
  return startChild(args, env).done;
}
