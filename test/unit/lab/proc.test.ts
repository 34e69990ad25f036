// The lab's guardian: stop() must not leave the supervised program behind when it ignores SIGTERM (killing only the
// guardian shell would orphan it).

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { supervise } from '../../lab/proc.js';

const execFileP = promisify(execFile);

async function pids(marker: string): Promise<string[]> {
  try {
    return (await execFileP('pgrep', ['-f', marker])).stdout.split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('supervise', () => {
  it('stop() kills a program that ignores SIGTERM once the grace period is over', async () => {
    const marker = `plait-proc-probe-${randomBytes(6).toString('hex')}`;
    const dir = await mkdtemp(join(tmpdir(), 'plait-proc-'));
    const ready = join(dir, 'ready');
    // The program says when its SIGTERM handler is in place; before that, SIGTERM would still kill it.
    const program = `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(ready)}, ''); setInterval(() => {}, 1000); // ${marker}`;
    const s = supervise(process.execPath, ['-e', program], 2, undefined, 500);
    for (let i = 0; i < 400 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(ready)).toBe(true);
    await s.stop();
    await rm(dir, { recursive: true, force: true });
    for (let i = 0; i < 40 && (await pids(marker)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await pids(marker)).toEqual([]);
  });
});
