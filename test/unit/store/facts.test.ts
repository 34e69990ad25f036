// The digest-keyed facts cache: round trip, validation before paths are made, damaged files as misses.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlaitError } from '../../../src/errors.js';
import { Store } from '../../../src/core/store/index.js';
import { tempRoot } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
let store: Store;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = await Store.open(join(root, 'store'));
});
afterEach(async () => {
  await cleanup();
});

const d256 = `sha256:${'ab'.repeat(32)}`;
const d512 = `sha512:${'cd'.repeat(64)}`;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PlaitError) return e.code;
    throw e;
  }
  return 'resolved';
}

describe('facts', () => {
  it('round-trips JSON values under facts/<kind>/<alg>/<hex>.json', async () => {
    expect(await store.getFact('platform', d256)).toBeUndefined();
    const value = { os: 'linux', architecture: 'arm64', variant: 'v8', n: [1, 2] };
    await store.putFact('platform', d256, value);
    expect(await store.getFact('platform', d256)).toEqual(value);
    await store.putFact('blob-size', d512, 42);
    expect(await store.getFact<number>('blob-size', d512)).toBe(42);
    await store.putFact('nothing', d256, null);
    expect(await store.getFact('nothing', d256)).toBeNull();
    expect(await readdir(join(store.root, 'facts', 'platform', 'sha256'))).toEqual([`${'ab'.repeat(32)}.json`]);
    // Kinds are separate namespaces.
    expect(await store.getFact('blob-size', d256)).toBeUndefined();
  });

  it('rejects kinds and digests that could escape the root', async () => {
    const badKinds = ['', '..', '../x', 'a/b', 'Platform', 'a.b', 'x'.repeat(65)];
    for (const kind of badKinds) {
      expect(await code(store.putFact(kind, d256, 1)), kind).toBe('E_INVALID');
      expect(await code(store.getFact(kind, d256)), kind).toBe('E_INVALID');
    }
    const badDigests = [
      'sha256:../../../etc/passwd',
      `sha256:${'AB'.repeat(32)}`,
      `sha256:${'ab'.repeat(31)}`,
      `sha512:${'ab'.repeat(32)}`,
      `md5:${'ab'.repeat(16)}`,
      `../sha256:${'ab'.repeat(32)}`,
      `sha256:${'ab'.repeat(32)}/..`,
      'ab'.repeat(32),
    ];
    for (const digest of badDigests) {
      expect(await code(store.putFact('k', digest, 1)), digest).toBe('E_INVALID');
      expect(await code(store.getFact('k', digest)), digest).toBe('E_INVALID');
    }
  });

  it('rejects values without a JSON form', async () => {
    expect(await code(store.putFact('k', d256, undefined))).toBe('E_INVALID');
    expect(await code(store.putFact('k', d256, () => 1))).toBe('E_INVALID');
    expect(await code(store.putFact('k', d256, 10n))).toBe('E_INVALID');
  });

  it('treats a damaged fact file as absent and removes it', async () => {
    await store.putFact('platform', d256, { os: 'linux' });
    const path = join(store.root, 'facts', 'platform', 'sha256', `${'ab'.repeat(32)}.json`);
    await writeFile(path, '{"kind":"platform","digest":');
    expect(await store.getFact('platform', d256)).toBeUndefined();
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
    // A file whose key does not match where it lies is damage too.
    await store.putFact('platform', d256, { os: 'linux' });
    await writeFile(path, JSON.stringify({ kind: 'platform', digest: d512, value: 1 }));
    expect(await store.getFact('platform', d256)).toBeUndefined();
    await store.putFact('platform', d256, { os: 'linux' });
    expect(await store.getFact('platform', d256)).toEqual({ os: 'linux' });
  });

  it('counts a value failing the guard as absent', async () => {
    const isNumber = (v: unknown): v is number => typeof v === 'number';
    await store.putFact('size', d256, 'not a number');
    expect(await store.getFact('size', d256, isNumber)).toBeUndefined();
    await store.putFact('size', d256, 7);
    expect(await store.getFact('size', d256, isNumber)).toBe(7);
  });
});
