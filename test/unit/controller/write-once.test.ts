import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOnce } from '../../../src/controller/resources.js';

// The controller writes a Secret's auth.json (and CA files) under a name made from its content, once per reconcile;
// reconciles of objects sharing the Secret run at once and read what another one writes. A reader must never see a
// half-written file (the leader-election test met "auth file … is not valid JSON" when it was rewritten in place).

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('writeOnce', () => {
  it('readers racing writers of the same file always read it whole; no temp file is left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-write-once-'));
    dirs.push(dir);
    const file = join(dir, 'auth.json');
    const content = JSON.stringify({ auths: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`r${i}.example`, { auth: 'x'.repeat(40) }])) });
    const bad: string[] = [];
    let writing = true;
    const reader = async () => {
      while (writing) {
        const got = await readFile(file, 'utf8').catch(() => undefined); // not there yet: fine
        if (got !== undefined && got !== content) bad.push(`${got.length} of ${content.length} bytes`);
      }
    };
    const readers = Array.from({ length: 4 }, reader);
    for (let round = 0; round < 30; round++) await Promise.all(Array.from({ length: 4 }, () => writeOnce(file, content)));
    writing = false;
    await Promise.all(readers);
    expect(bad).toEqual([]);
    expect(await readdir(dir)).toEqual(['auth.json']);
  });
});
