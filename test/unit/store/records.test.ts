// List records: create/read/overwrite, resolution by id, prefix and name, the names index, deletion and the
// consistency rules that make a crash between steps harmless.
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPlaitError, PlaitError } from '../../../src/errors.js';
import { Store } from '../../../src/core/store/index.js';
import { encodeName } from '../../../src/core/store/layout.js';
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

async function caught(p: Promise<unknown>): Promise<PlaitError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PlaitError) return e;
    throw e;
  }
  throw new Error('expected a PlaitError');
}

const manifest = Buffer.from('{"schemaVersion":2,"manifests":[]}');
const instances = Buffer.from('{}');

describe('Store.open', () => {
  it('creates nothing until the first write', async () => {
    await expect(stat(store.root)).rejects.toMatchObject({ code: 'ENOENT' });
    await store.createRecord({ names: ['a'], items: { manifest } });
    expect((await readdir(store.root)).sort()).toEqual(['lists', 'locks', 'names']);
  });

  it('refuses a root that is a file', async () => {
    await writeFile(join(root, 'file'), 'x');
    const e = await caught(Store.open(join(root, 'file')));
    expect(e.code).toBe('E_STORE');
  });
});

describe('records', () => {
  it('creates a record and reads its items back byte for byte', async () => {
    const id = await store.createRecord({ names: ['localhost/list:1'], items: { manifest, 'instances.json': instances } });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.readItem(id, 'manifest')).toEqual(manifest);
    expect(await store.readItem(id, 'instances.json')).toEqual(instances);
    expect(await store.readItem(id, 'history.json')).toBeUndefined();
    const rec = await store.getRecord('localhost/list:1');
    expect(rec).toEqual({ id, names: ['localhost/list:1'], created: expect.any(String) as string });
    expect(new Date(rec.created).toISOString()).toBe(rec.created);
    const dir = join(store.root, 'lists', id);
    expect((await readdir(dir)).sort()).toEqual(['instances.json', 'manifest', 'record.json']);
    expect(JSON.parse(await readFile(join(dir, 'record.json'), 'utf8'))).toEqual(rec);
    expect((await readFile(join(store.root, 'names', encodeURIComponent('localhost/list:1')), 'utf8')).trim()).toBe(id);
  });

  it('uses the given id', async () => {
    const id = 'ab'.repeat(32);
    expect(await store.createRecord({ id, names: [], items: { manifest } })).toBe(id);
    expect((await store.getRecord(id)).names).toEqual([]);
  });

  it('overwrites items in place and keeps the names', async () => {
    const id = await store.createRecord({ names: ['x'], items: { manifest, 'instances.json': instances } });
    const next = Buffer.from('{"schemaVersion":2,"manifests":[{}]}');
    await store.writeItems(id, { manifest: next, 'history.json': Buffer.from('[]') });
    expect(await store.readItem(id, 'manifest')).toEqual(next);
    expect(await store.readItem(id, 'instances.json')).toEqual(instances);
    expect(await store.readItem(id, 'history.json')).toEqual(Buffer.from('[]'));
    expect((await store.getRecord(id)).names).toEqual(['x']);
    // No temp files left next to the items.
    expect((await readdir(join(store.root, 'lists', id))).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('resolves by full id, unique prefix of 12+ hex and name', async () => {
    const a = await store.createRecord({ id: 'a1'.repeat(32), names: ['one'], items: { manifest } });
    const b = await store.createRecord({ id: 'a1'.repeat(6) + 'b'.repeat(52), names: ['two'], items: { manifest } });
    expect(await store.resolve(a)).toBe(a);
    expect(await store.resolve('one')).toBe(a);
    expect(await store.resolve('two')).toBe(b);
    expect(await store.resolve(b.slice(0, 13))).toBe(b);
    expect(await store.resolve(a.slice(0, 13))).toBe(a);
    // Shorter than 12 is treated as a name only.
    expect(await store.resolve(b.slice(0, 11))).toBeUndefined();
    expect(await store.resolve('nope')).toBeUndefined();
    expect(await store.resolve('f'.repeat(64))).toBeUndefined();
    const amb = await caught(store.resolve(a.slice(0, 12)));
    expect(amb.code).toBe('E_INVALID');
    expect(amb.message).toContain('ambiguous');
  });

  it('prefers a record id over a name that looks like one', async () => {
    const a = await store.createRecord({ id: 'c'.repeat(64), names: [], items: { manifest } });
    const b = await store.createRecord({ names: ['c'.repeat(64), 'd'.repeat(64)], items: { manifest } });
    expect(await store.resolve(a)).toBe(a);
    expect(await store.resolve('d'.repeat(64))).toBe(b);
  });

  it('refuses a name that another list holds (E_CONFLICT naming it), leaving nothing behind', async () => {
    const a = await store.createRecord({ names: ['shared'], items: { manifest } });
    const e = await caught(store.createRecord({ names: ['fresh', 'shared'], items: { manifest } }));
    expect(e.code).toBe('E_CONFLICT');
    expect(e.message).toContain('"shared"');
    expect(e.details.owner).toBe(a);
    expect((await store.listRecords()).map((r) => r.id)).toEqual([a]);
    expect(await store.resolve('fresh')).toBeUndefined();
    expect(await readdir(join(store.root, 'lists'))).toEqual([a]);
  });

  it('reports a duplicate id as E_CONFLICT with details.duplicateId', async () => {
    const id = await store.createRecord({ names: ['a'], items: { manifest } });
    const e = await caught(store.createRecord({ id, names: ['b'], items: { manifest: Buffer.from('x') } }));
    expect(e.code).toBe('E_CONFLICT');
    expect(e.details.duplicateId).toBe(true);
    expect(await store.readItem(id, 'manifest')).toEqual(manifest);
    expect(await store.resolve('b')).toBeUndefined();
  });

  it('reports unknown lists as E_NOT_FOUND naming them', async () => {
    const e = await caught(store.getRecord('localhost/missing:latest'));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.message).toBe(`no list named localhost/missing:latest in the store ${store.root}`);
    const id = 'e'.repeat(64);
    expect((await caught(store.readItem(id, 'manifest'))).code).toBe('E_NOT_FOUND');
    expect((await caught(store.writeItems(id, { manifest }))).code).toBe('E_NOT_FOUND');
    expect((await caught(store.deleteRecord('gone'))).code).toBe('E_NOT_FOUND');
    expect((await caught(store.addNames(id, ['n']))).code).toBe('E_NOT_FOUND');
  });

  it('lists records sorted by creation time', async () => {
    expect(await store.listRecords()).toEqual([]);
    const ids: string[] = [];
    for (const n of ['c', 'a', 'b']) {
      ids.push(await store.createRecord({ names: [n], items: { manifest } }));
      await new Promise((r) => setTimeout(r, 5));
    }
    const list = await store.listRecords();
    expect(list.map((r) => r.id)).toEqual(ids);
    expect(list.map((r) => r.names)).toEqual([['c'], ['a'], ['b']]);
  });

  it('adds and removes names', async () => {
    const a = await store.createRecord({ names: ['a'], items: { manifest } });
    const b = await store.createRecord({ names: ['b'], items: { manifest } });
    await store.addNames(a, ['a2', 'a', 'a3', 'a2']);
    expect((await store.getRecord(a)).names).toEqual(['a', 'a2', 'a3']);
    expect(await store.resolve('a3')).toBe(a);
    const e = await caught(store.addNames(a, ['a4', 'b']));
    expect(e.code).toBe('E_CONFLICT');
    expect(e.message).toContain('"b"');
    expect((await store.getRecord(a)).names).toEqual(['a', 'a2', 'a3']);
    expect(await store.resolve('a4')).toBeUndefined();
    await store.removeNames(a, ['a2', 'not-held', 'b']);
    expect((await store.getRecord(a)).names).toEqual(['a', 'a3']);
    expect(await store.resolve('a2')).toBeUndefined();
    expect(await store.resolve('b')).toBe(b);
    // A freed name can go to another list.
    await store.addNames(b, ['a2']);
    expect(await store.resolve('a2')).toBe(b);
  });

  it('deletes by name: names first, then the directory', async () => {
    const a = await store.createRecord({ names: ['a', 'a-too'], items: { manifest } });
    const b = await store.createRecord({ names: ['b'], items: { manifest } });
    expect(await store.deleteRecord('a-too')).toBe(a);
    expect(await store.resolve('a')).toBeUndefined();
    expect(await store.resolve(a)).toBeUndefined();
    expect(await readdir(join(store.root, 'names'))).toEqual(['b']);
    expect(await readdir(join(store.root, 'lists'))).toEqual([b]);
    // The name is free again.
    const c = await store.createRecord({ names: ['a'], items: { manifest } });
    expect(await store.resolve('a')).toBe(c);
  });

  it('encodes names so that none can escape the names directory', async () => {
    const names = ['..', '.', '../../etc/passwd', '.hidden', 'a/b:c@sha256:00', `${'x/'.repeat(150)}y`];
    const id = await store.createRecord({ names, items: { manifest } });
    for (const n of names) expect(await store.resolve(n)).toBe(id);
    const files = await readdir(join(store.root, 'names'));
    expect(files).toHaveLength(names.length);
    for (const f of files) {
      expect(f.startsWith('.')).toBe(false);
      expect(f).not.toContain('/');
      expect(Buffer.byteLength(f)).toBeLessThanOrEqual(200);
    }
    expect(files).toContain(encodeName('a/b:c@sha256:00'));
    expect((await store.getRecord(id)).names).toEqual(names);
  });

  it('rejects bad ids, item names and list names with E_INVALID', async () => {
    const id = await store.createRecord({ names: ['ok'], items: { manifest } });
    for (const bad of ['record.json', '../x', '.hidden', 'a/b', '']) {
      const e = await caught(store.writeItems(id, { [bad]: manifest }));
      expect(e.code, bad).toBe('E_INVALID');
      expect((await caught(store.readItem(id, bad))).code).toBe('E_INVALID');
    }
    expect((await caught(store.createRecord({ names: [''], items: {} }))).code).toBe('E_INVALID');
    expect((await caught(store.createRecord({ names: ['a\nb'], items: {} }))).code).toBe('E_INVALID');
    expect((await caught(store.createRecord({ id: 'ABC', names: [], items: {} }))).code).toBe('E_INVALID');
    expect((await caught(store.readItem('../../etc', 'passwd'))).code).toBe('E_INVALID');
    expect((await caught(store.withListLock('x', () => 1))).code).toBe('E_INVALID');
  });

  it('ignores a dangling name file and lets the next claim take it over', async () => {
    // As left by a crash: a name file pointing at a record that does not list the name, and an empty one.
    const a = await store.createRecord({ names: ['a'], items: { manifest } });
    await writeFile(join(store.root, 'names', 'ghost'), `${a}\n`);
    await writeFile(join(store.root, 'names', 'empty'), '');
    expect(await store.resolve('ghost')).toBeUndefined();
    expect(await store.resolve('empty')).toBeUndefined();
    const b = await store.createRecord({ names: ['ghost', 'empty'], items: { manifest } });
    expect(await store.resolve('ghost')).toBe(b);
    expect(await store.resolve('empty')).toBe(b);
  });

  it('does not report names a record lists but the index gives to nobody or to another list', async () => {
    const a = await store.createRecord({ names: ['a'], items: { manifest } });
    const recordFile = join(store.root, 'lists', a, 'record.json');
    const rec = JSON.parse(await readFile(recordFile, 'utf8')) as { names: string[] };
    rec.names.push('half-added');
    await writeFile(recordFile, JSON.stringify(rec));
    expect((await store.getRecord(a)).names).toEqual(['a']);
    expect(await store.resolve('half-added')).toBeUndefined();
    const b = await store.createRecord({ names: ['half-added'], items: { manifest } });
    expect(await store.resolve('half-added')).toBe(b);
    expect((await store.getRecord(a)).names).toEqual(['a']);
    // The next name change on a prunes the stale entry from its record.json.
    await store.addNames(a, ['a2']);
    expect((JSON.parse(await readFile(recordFile, 'utf8')) as { names: string[] }).names).toEqual(['a', 'a2']);
  });

  it('sweeps temp files and half-built records older than a minute', async () => {
    const id = await store.createRecord({ names: ['a'], items: { manifest } });
    const dir = join(store.root, 'lists', id);
    const old = new Date(Date.now() - 120_000);
    const oldTmp = join(dir, '.manifest.tmp-1-deadbeef');
    const newTmp = join(dir, '.manifest.tmp-2-deadbeef');
    await writeFile(oldTmp, 'partial');
    await writeFile(newTmp, 'partial');
    await utimes(oldTmp, old, old);
    const staging = join(store.root, 'lists', `.new-${'0'.repeat(64)}-1234`);
    await mkdir(staging);
    await writeFile(join(staging, 'manifest'), 'x');
    await utimes(staging, old, old);
    const reopened = await Store.open(store.root);
    expect(await reopened.readItem(id, 'manifest')).toEqual(manifest);
    expect((await readdir(dir)).sort()).toEqual(['.manifest.tmp-2-deadbeef', 'manifest', 'record.json']);
    expect((await reopened.listRecords()).map((r) => r.id)).toEqual([id]);
    expect(await readdir(join(store.root, 'lists'))).toEqual([id]);
  });

  it('is a PlaitError family throughout', async () => {
    const e: unknown = await caught(store.getRecord('x'));
    expect(isPlaitError(e, 'E_NOT_FOUND')).toBe(true);
  });
});
