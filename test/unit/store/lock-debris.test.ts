// A writer SIGKILLed while it creates a lock target (the first lock of a list, or of the names index, writes an empty
// target file atomically) leaves a temp file in locks/; the next run that takes a lock there sweeps it.
import { readdir } from 'node:fs/promises';
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
