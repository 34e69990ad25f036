// A writer SIGKILLed between fsync and rename (PLAIT_FAILPOINT=before-rename) leaves the previous item bytes intact;
// its temp file is swept once it is older than a minute.
import { readdir, utimes } from 'node:fs/promises';
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
  it('keeps the previous bytes and a loadable record', async () => {
    const storeRoot = join(root, 'store');
    const store = await Store.open(storeRoot);
    const before = Buffer.from('{"schemaVersion":2,"manifests":[]}');
    const id = await store.createRecord({ names: ['crashy'], items: { manifest: before, 'instances.json': Buffer.from('{}') } });

    const r = await runChild(['write', storeRoot, id, 'manifest', 'NEW BYTES'], { PLAIT_FAILPOINT: 'before-rename' });
    expect(r.signal).toBe('SIGKILL');

    const after = await Store.open(storeRoot);
    expect(await after.getRecord('crashy')).toMatchObject({ id, names: ['crashy'] });
    expect(await after.readItem(id, 'manifest')).toEqual(before);
    expect(await after.readItem(id, 'instances.json')).toEqual(Buffer.from('{}'));
    const dir = join(storeRoot, 'lists', id);
    const temps = (await readdir(dir)).filter((f) => f.startsWith('.manifest.tmp-'));
    expect(temps).toHaveLength(1);

    // Age the leftover past the sweep threshold; the next Store to open the record removes it.
    const old = new Date(Date.now() - 120_000);
    await utimes(join(dir, temps[0] ?? ''), old, old);
    const later = await Store.open(storeRoot);
    expect(await later.readItem(id, 'manifest')).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(['instances.json', 'manifest', 'record.json']);

    // And the same write without the failpoint goes through.
    const ok = await runChild(['write', storeRoot, id, 'manifest', 'NEW BYTES']);
    expect(ok.code).toBe(0);
    expect((await later.readItem(id, 'manifest'))?.toString()).toBe('NEW BYTES');
  });
});
