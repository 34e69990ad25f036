import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Runs the built CLI (dist/, made by `npm test` before vitest) as a user would, capturing bytes exactly.

export const PLAIT_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface PlaitRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run the CLI (`opts.bin`: another copy of main.js; `opts.nodeArgs`: Node's own flags before it) with `args`. */
export function runPlait(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; bin?: string; nodeArgs?: string[] } = {}): Promise<PlaitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.bin ?? PLAIT_BIN, ...args], {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    // A command may refuse its input before reading all of it (a spec over the size limit): not the test's error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
