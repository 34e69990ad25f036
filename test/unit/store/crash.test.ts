// A writer SIGKILLed between fsync and rename (PLAIT_FAILPOINT=before-rename) leaves the previous item bytes intact;
// its temp file is swept by the next run at once (its writer is gone), or once it is older than a minute. A writer
// SIGKILLed while it creates a lock target (the first lock of a list, or of the names index, writes an empty target
// file atomically) leaves a temp file in locks/; the next run that takes a lock there sweeps it.
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/core/store/index.js';
import { runChild, tempRoot } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => {
  await cleanup();
});

describe('crash during an item write', () => {
  it('keeps a live writer\'s young temp file, and removes an aged one', async () => {
    const storeRoot = join(root, 'store');
    const store = await Store.open(storeRoot);
    const id = await store.createRecord({ names: ['live'], items: { manifest: Buffer.from('{}') } });
    const dir = join(storeRoot, 'lists', id);
    // A temp named for this (running) process: a writer at work, not debris.
    const temp = join(dir, `.manifest.tmp-${process.pid}-0badc0de`);
    await writeFile(temp, 'half');
    await (await Store.open(storeRoot)).readItem(id, 'manifest');
    expect((await readdir(dir)).includes(`.manifest.tmp-${process.pid}-0badc0de`)).toBe(true);
    const old = new Date(Date.now() - 120_000);
    await utimes(temp, old, old);
    await (await Store.open(storeRoot)).readItem(id, 'manifest');
    expect((await readdir(dir)).sort()).toEqual(['manifest', 'record.json']);
  });

  it('a fact write killed before its rename leaves nothing once the next run writes a fact there', async () => {
    const storeRoot = join(root, 'store');
    const digest = `sha256:${'a'.repeat(64)}`;
    const r = await runChild(['fact', storeRoot, 'x', digest, 'one'], { PLAIT_FAILPOINT: 'before-rename' });
    expect(r.signal).toBe('SIGKILL');
    const dir = join(storeRoot, 'facts', 'crash-test', 'sha256');
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toHaveLength(1);
    const ok = await runChild(['fact', storeRoot, 'x', `sha256:${'b'.repeat(64)}`, 'two']);
    expect(ok.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual([`${'b'.repeat(64)}.json`]);
  });

  it('keeps the previous bytes and a loadable record', async () => {
    const storeRoot = join(root, 'store');
    const store = await Store.open(storeRoot);
    const before = Buffer.from('{"schemaVersion":2,"manifests":[]}');
    const id = await store.createRecord({ names: ['crashy'], items: { manifest: before, 'instances.json': Buffer.from('{}') } });

    const r = await runChild(['write', storeRoot, id, 'manifest', 'NEW BYTES'], { PLAIT_FAILPOINT: 'before-rename' });
    expect(r.signal).toBe('SIGKILL');

    const dir = join(storeRoot, 'lists', id);
    const temps = (await readdir(dir)).filter((f) => f.startsWith('.manifest.tmp-'));
    expect(temps).toHaveLength(1);
    // The killed writer's pid is in the name and no longer runs: the next Store to open the record removes it now.
    const after = await Store.open(storeRoot);
    expect(await after.getRecord('crashy')).toMatchObject({ id, names: ['crashy'] });
    expect(await after.readItem(id, 'manifest')).toEqual(before);
    expect(await after.readItem(id, 'instances.json')).toEqual(Buffer.from('{}'));
    expect((await readdir(dir)).sort()).toEqual(['instances.json', 'manifest', 'record.json']);
    const later = after;

    // And the same write without the failpoint goes through.
    const ok = await runChild(['write', storeRoot, id, 'manifest', 'NEW BYTES']);
    expect(ok.code).toBe(0);
    expect((await later.readItem(id, 'manifest'))?.toString()).toBe('NEW BYTES');
  });
});

describe('crash while creating a lock target', () => {
  it('leaves no temp file in locks/ once the next run takes that lock', async () => {
    const storeRoot = join(root, 'store');
    const store = await Store.open(storeRoot);
    const id = await store.createRecord({ names: ['locky'], items: { 'entries.json': Buffer.from('[]') } });
    const locks = join(storeRoot, 'locks');
    const temps = async () => (await readdir(locks)).filter((f) => f.includes('.tmp-'));

    const r = await runChild(['append', storeRoot, id, 'one'], { PLAIT_FAILPOINT: 'before-rename' });
    expect(r.signal).toBe('SIGKILL');
    expect(await temps()).toHaveLength(1);

    const ok = await runChild(['append', storeRoot, id, 'two']);
    expect(ok.code).toBe(0);
    expect(await temps()).toEqual([]);
  });
});
