// withListLock: exclusion across processes (proper-lockfile) and across tasks of one process (the keyed queue), the
// bounded wait, stale-lock takeover after a SIGKILL, a compromised lock, and lockerForImage.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlaitError } from '../../../src/errors.js';
import { lockerForImage, Store } from '../../../src/core/store/index.js';
import { KeyedMutex } from '../../../src/core/store/mutex.js';
import type { Child } from './helpers.js';
import { runChild, startChild, tempRoot } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
let storeRoot: string;
let store: Store;
let id: string;
const children: Child[] = [];

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  storeRoot = join(root, 'store');
  store = await Store.open(storeRoot);
  id = await store.createRecord({ names: ['locked/list'], items: { 'entries.json': Buffer.from('[]') } });
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await c.done;
  }
  await cleanup();
});

function spawnTracked(args: string[]): Child {
  const c = startChild(args);
  children.push(c);
  return c;
}

async function caught(p: Promise<unknown>): Promise<PlaitError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PlaitError) return e;
    throw e;
  }
  throw new Error('expected a PlaitError');
}

async function entries(): Promise<string[]> {
  return JSON.parse((await store.readItem(id, 'entries.json'))?.toString('utf8') ?? 'null') as string[];
}

async function append(s: Store, entry: string): Promise<void> {
  await s.withListLock(id, async () => {
    const list = JSON.parse((await s.readItem(id, 'entries.json'))?.toString('utf8') ?? '[]') as string[];
    list.push(entry);
    await sleep(Math.random() * 5);
    await s.writeItems(id, { 'entries.json': Buffer.from(JSON.stringify(list)) });
  });
}

describe('withListLock in one process', () => {
  it('serialises 20 concurrent read-modify-write tasks', async () => {
    // Two Store objects on one root share the queue: the lock belongs to the path, not the object.
    const other = await Store.open(storeRoot);
    await Promise.all(Array.from({ length: 20 }, (_, i) => append(i % 2 === 0 ? store : other, `task-${i}`)));
    const got = await entries();
    expect(got).toHaveLength(20);
    expect(new Set(got)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `task-${i}`)));
  });

  it('returns fn’s value, passes its error through and releases the lock either way', async () => {
    expect(await store.withListLock(id, () => 42)).toBe(42);
    const boom = new Error('boom');
    await expect(store.withListLock(id, () => Promise.reject(boom))).rejects.toBe(boom);
    expect(await store.withListLock(id, () => 'again', { timeoutMs: 0 })).toBe('again');
    await expect(stat(`${store.lockPath(id)}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
    // The lock target exists and stays (like containers/storage's lock files).
    expect((await stat(store.lockPath(id))).isFile()).toBe(true);
  });

  it('fails a queued task with E_LOCKED after its timeout', async () => {
    let release!: () => void;
    const held = store.withListLock(id, () => new Promise<void>((r) => (release = r)));
    await sleep(20);
    const e = await caught(store.withListLock(id, () => 1, { timeoutMs: 150, label: 'locked/list' }));
    expect(e.code).toBe('E_LOCKED');
    expect(e.details.timeoutMs).toBe(150); // the task's own timeout, not the default
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('list locked/list is locked by another task in this process');
    release();
    await held;
    expect(await store.withListLock(id, () => 2)).toBe(2);
  });

  it('turns a compromised lock into E_LOCKED for the running fn instead of crashing', async () => {
    let sawAbort = false;
    const e = await caught(
      store.withListLock(
        id,
        async (signal) => {
          // Someone removes our lock dir; the next refresh (update = 1 s with stale = 2 s) notices.
          await rm(`${store.lockPath(id)}.lock`, { recursive: true });
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          sawAbort = signal.aborted;
          return 'finished anyway';
        },
        { stale: 2000 },
      ),
    );
    expect(sawAbort).toBe(true);
    expect(e.code).toBe('E_LOCKED');
    expect(e.message).toContain('lost the lock');
    expect(await store.withListLock(id, () => 'usable again')).toBe('usable again');
  });
});

describe('withListLock across processes', () => {
  it('serialises 8 processes appending to one item', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => runChild(['append', storeRoot, id, `proc-${i}`])),
    );
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    const got = await entries();
    expect(got).toHaveLength(8);
    expect(new Set(got)).toEqual(new Set(Array.from({ length: 8 }, (_, i) => `proc-${i}`)));
  });

  it('makes another process fail with E_LOCKED while a live holder keeps the lock', async () => {
    const holder = spawnTracked(['hold', storeRoot, id, '30000']);
    await holder.waitFor('locked');
    const r = await runChild(['try', storeRoot, id, '300']);
    const out = JSON.parse(r.stdout) as { ok: boolean; code?: string; retryable?: boolean; message?: string };
    expect(out).toMatchObject({ ok: false, code: 'E_LOCKED', retryable: true });
    expect(out.message).toContain(`is locked by another process (${store.lockPath(id)}.lock)`);
    // This process too, with the lock named as the caller asked.
    const e = await caught(store.withListLock(id, () => 1, { timeoutMs: 200, label: 'locked/list' }));
    expect(e.code).toBe('E_LOCKED');
    expect(e.message).toContain('list locked/list is locked by another process');
    expect(e.details.lockPath).toBe(`${store.lockPath(id)}.lock`);
  });

  it('takes over the lock of a SIGKILLed holder once it is stale', async () => {
    const holder = spawnTracked(['hold', storeRoot, id, '2000']);
    await holder.waitFor('locked');
    holder.proc.kill('SIGKILL');
    const r = await holder.done;
    expect(r.signal).toBe('SIGKILL');
    // The lock dir outlives its holder.
    expect((await stat(`${store.lockPath(id)}.lock`)).isDirectory()).toBe(true);
    // Taken over, not timed out (that would throw E_LOCKED): the staleness check, not the deadline, let it in.
    expect(await store.withListLock(id, () => 'mine', { stale: 2000, timeoutMs: 10_000 })).toBe('mine');
  });
});

describe('lockerForImage', () => {
  it('locks by list id, which stays the same across saves and names', async () => {
    const locker = await lockerForImage(store, 'locked/list');
    expect(locker.id).toBe(id);
    expect(locker.lockPath).toBe(join(storeRoot, 'locks', id));
    await store.writeItems(id, { manifest: Buffer.from('{}') });
    await store.addNames(id, ['other/name']);
    expect((await lockerForImage(store, 'other/name')).id).toBe(id);
    expect((await lockerForImage(store, id.slice(0, 12))).lockPath).toBe(locker.lockPath);

    // The locker and withListLock(id) exclude each other.
    let release!: () => void;
    const held = locker.withLock(() => new Promise<void>((r) => (release = r)));
    await sleep(20);
    const e = await caught(store.withListLock(id, () => 1, { timeoutMs: 100 }));
    expect(e.code).toBe('E_LOCKED');
    release();
    await held;
  });

  it('names the list as the caller did in E_LOCKED', async () => {
    const locker = await lockerForImage(store, 'locked/list');
    let release!: () => void;
    const held = store.withListLock(id, () => new Promise<void>((r) => (release = r)));
    await sleep(20);
    const e = await caught(locker.withLock(() => 1, { timeoutMs: 50 }));
    expect(e.message).toContain('list locked/list is locked');
    release();
    await held;
  });

  it('fails with E_NOT_FOUND for an unknown list', async () => {
    expect((await caught(lockerForImage(store, 'nope'))).code).toBe('E_NOT_FOUND');
  });
});

describe('KeyedMutex', () => {
  it('grants in FIFO order per key and keeps keys independent', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    const r1 = await m.acquire('a', 1000);
    const p2 = m.acquire('a', 1000).then((r) => (order.push('2'), r));
    const p3 = m.acquire('a', 1000).then((r) => (order.push('3'), r));
    const b = await m.acquire('b', 0);
    expect(b).toBeTypeOf('function');
    b?.();
    expect(order).toEqual([]);
    r1?.();
    (await p2)?.();
    (await p3)?.();
    expect(order).toEqual(['2', '3']);
    expect(m.isHeld('a')).toBe(false);
  });

  it('drops a waiter that times out without disturbing the queue', async () => {
    const m = new KeyedMutex();
    const r1 = await m.acquire('a', 0);
    const timedOut = await m.acquire('a', 10);
    expect(timedOut).toBeUndefined();
    const p = m.acquire('a', 1000);
    r1?.();
    r1?.();
    const r2 = await p;
    expect(m.isHeld('a')).toBe(true);
    r2?.();
    expect(m.isHeld('a')).toBe(false);
  });
});
