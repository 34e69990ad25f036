// How often a lookup reads the store's small files: a no-op reconcile looks up one list per spec, so a file read
// twice per lookup is a thousand extra reads in a run of a thousand specs. Counted at readStoreFile, the one
// function every such read goes through.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Store } from '../../../src/core/store/index.js';
import { readStoreFile } from '../../../src/core/store/read.js';
import { tempRoot } from './helpers.js';
import type * as Read from '../../../src/core/store/read.js';

vi.mock('../../../src/core/store/read.js', async (load) => {
  const real = await load<typeof Read>();
  return { readStoreFile: vi.fn(real.readStoreFile) };
});

let storeRoot: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root: storeRoot, cleanup } = await tempRoot());
});
afterEach(async () => cleanup());

/** Each path read since the last reset, with how many times (store-relative). */
function reads(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [path] of vi.mocked(readStoreFile).mock.calls) {
    const rel = String(path).slice(storeRoot.length + 1).replace(/[0-9a-f]{64}/g, 'ID');
    counts[rel] = (counts[rel] ?? 0) + 1;
  }
  return counts;
}

describe('store lookups', () => {
  it('getRecord by name reads its name file and record.json once each', async () => {
    const store = await Store.open(storeRoot);
    const id = await store.createRecord({ names: ['web', 'web-2'], items: { manifest: Buffer.from('{}') } });
    vi.mocked(readStoreFile).mockClear();
    const rec = await store.getRecord('web');
    expect(rec).toMatchObject({ id, names: ['web', 'web-2'] });
    // web-2's name file is read to check it still points here; web's was read to find the record.
    expect(reads()).toEqual({ 'names/web': 1, 'names/web-2': 1, 'lists/ID/record.json': 1 });
  });

  it('findRecord of a name no list has is undefined, after reading only where its name file would be', async () => {
    const store = await Store.open(storeRoot);
    await store.createRecord({ names: ['web'], items: { manifest: Buffer.from('{}') } });
    vi.mocked(readStoreFile).mockClear();
    expect(await store.findRecord('api')).toBeUndefined();
    expect(reads()).toEqual({ 'names/api': 1 });
    await expect(store.getRecord('api')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('getRecord by id reads record.json once and each name file once', async () => {
    const store = await Store.open(storeRoot);
    const id = await store.createRecord({ names: ['web'], items: { manifest: Buffer.from('{}') } });
    vi.mocked(readStoreFile).mockClear();
    expect((await store.getRecord(id)).names).toEqual(['web']);
    expect(reads()).toEqual({ 'names/web': 1, 'lists/ID/record.json': 1 });
  });
});
