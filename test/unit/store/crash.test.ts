// A writer SIGKILLed between fsync and rename (PLAIT_FAILPOINT=before-rename) leaves the previous item bytes intact;
// its temp file is swept by the next run at once (its writer is gone), or once it is older than a minute. A record
// creation SIGKILLed before its staging dir is renamed into place (before-record-rename) leaves no record and no
// name, and its staging dir goes with the next run. Lock targets are empty files made in place, without temp files;
// a temp file an earlier version left in locks/ is swept by the next run that takes a lock there.
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

describe('crash while creating a record', () => {
  it('leaves no record and no name, and the next run sweeps the staging dir and can create it', async () => {
    const storeRoot = join(root, 'store');
    const r = await runChild(['create', storeRoot, 'fresh'], { PLAIT_FAILPOINT: 'before-record-rename' });
    expect(r.signal).toBe('SIGKILL');
    const lists = join(storeRoot, 'lists');
    const staged = (await readdir(lists)).filter((f) => f.startsWith('.new-'));
    expect(staged).toHaveLength(1);
    // Every file of the staging dir was written whole before the kill: the rename is all that was missing.
    expect((await readdir(join(lists, staged[0]!))).sort()).toEqual(['instances.json', 'manifest', 'record.json']);
    const store = await Store.open(storeRoot);
    expect(await store.resolve('fresh')).toBeUndefined();

    const ok = await runChild(['create', storeRoot, 'fresh']);
    expect(ok.code).toBe(0);
    const after = await Store.open(storeRoot);
    expect((await readdir(lists)).filter((f) => f.startsWith('.'))).toEqual([]);
    const rec = await after.getRecord('fresh');
    expect((await after.readItem(rec.id, 'manifest'))?.toString()).toBe('{}');
  });
});

describe('lock targets', () => {
  it('are made without temp files, and a temp file left in locks/ goes with the next lock there', async () => {
    const storeRoot = join(root, 'store');
    const store = await Store.open(storeRoot);
    const id = await store.createRecord({ names: ['locky'], items: { 'entries.json': Buffer.from('[]') } });
    const locks = join(storeRoot, 'locks');
    const temps = async () => (await readdir(locks)).filter((f) => f.includes('.tmp-'));
    expect(await temps()).toEqual([]);
    // What a writer killed while creating a target as a data file (as earlier versions did) left: pid 2^22+1 is
    // above the largest pid_max Linux allows, so no process has it.
    await writeFile(join(locks, `.${id}.tmp-4194305-0badc0de`), '');

    const ok = await runChild(['append', storeRoot, id, 'two']);
    expect(ok.code).toBe(0);
    expect(await temps()).toEqual([]);
    expect((await readdir(locks)).sort()).toEqual([id, 'records']);
  });
});
