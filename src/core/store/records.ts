import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { failpoint, fsyncDir, writeFileAtomic, writeNewFileDurable } from '../../fsutil.js';
import { checkId, checkItemName, checkName, errnoCode, isId, isIdPrefix, RECORD_FILE, storeError } from './layout.js';
import type { Layout } from './layout.js';
import { withFileLock } from './lock.js';
import { claimName, isClaimedBy, nameConflict, nameOwner, nameOwnerRecord, releaseName } from './names.js';
import { readRecordMeta, recordMetaBody, writeRecordMeta } from './recordfile.js';
import { readStoreFile } from './read.js';
import type { ListRecord } from './recordfile.js';

// List records: `lists/<id>/` with one file per data item plus record.json. A record appears whole: it is built in a
// `.new-*` dir and renamed into place; it disappears whole: renamed to `.del-*` before removal. Items are replaced one
// file at a time with writeFileAtomic. Changes to names (create, addNames, removeNames, delete) are serialised by one
// store-wide lock, like containers/storage's image-store lock; item writes rely on the caller's per-list lock.

export interface CreateRecordOptions {
  /** 64 lowercase hex; random when absent. An existing id fails with E_CONFLICT and details.duplicateId. */
  id?: string;
  names: readonly string[];
  items: Readonly<Record<string, Buffer>>;
}

function withRecordsLock<T>(layout: Layout, fn: () => Promise<T>): Promise<T> {
  return withFileLock(join(layout.locks, 'records'), `the names index of the store ${layout.root}`, fn);
}

function uniqueNames(names: readonly string[]): string[] {
  return [...new Set(names.map(checkName))];
}

function checkItems(items: Readonly<Record<string, Buffer>>): [string, Buffer][] {
  return Object.entries(items).map(([name, data]) => {
    checkItemName(name);
    if (!Buffer.isBuffer(data)) {
      throw new PlaitError(ErrorCodes.E_INVALID, `store: data item "${name}" is not a Buffer`, { details: { item: name } });
    }
    return [name, data];
  });
}

function notFound(layout: Layout, nameOrId: string): PlaitError {
  return new PlaitError(ErrorCodes.E_NOT_FOUND, `no list named ${nameOrId} in the store ${layout.root}`, {
    details: { name: nameOrId, store: layout.root },
  });
}

function duplicateId(layout: Layout, id: string): PlaitError {
  return new PlaitError(ErrorCodes.E_CONFLICT, `a list with id ${id} already exists in the store ${layout.root}`, {
    details: { id, duplicateId: true },
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw storeError('cannot stat', path, e);
  }
}

/** Renames a record dir out of sight, then removes it, so nobody reads a half-deleted record. */
async function removeRecordDir(layout: Layout, id: string): Promise<void> {
  const dir = layout.recordDir(id);
  const doomed = join(layout.lists, `.del-${id}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(dir, doomed);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw storeError('cannot remove', dir, e);
  }
  await fsyncDir(layout.lists).catch(() => undefined);
  await rm(doomed, { recursive: true, force: true }).catch(() => undefined);
}

export async function createRecord(layout: Layout, options: CreateRecordOptions): Promise<string> {
  const id = options.id === undefined ? randomBytes(32).toString('hex') : checkId(options.id);
  const names = uniqueNames(options.names);
  const items = checkItems(options.items);
  // Cheap early answer for SaveToImage's overwrite path; re-checked under the lock.
  if ((await readRecordMeta(layout, id)) !== undefined) throw duplicateId(layout, id);
  return withRecordsLock(layout, async () => {
    const dir = layout.recordDir(id);
    if ((await readRecordMeta(layout, id)) !== undefined) throw duplicateId(layout, id);
    // A dir without record.json is a record that was never finished (or an item write that raced a delete).
    if (await exists(dir)) await removeRecordDir(layout, id);
    for (const name of names) {
      const owner = await nameOwner(layout, name);
      if (owner !== undefined) throw nameConflict(name, owner, layout.root);
    }
    const staging = join(layout.lists, `.new-${id}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      // Nobody reads the staging dir before it is renamed into place, so its files need no temp file and rename of
      // their own: they are written side by side, each fsynced, and the dir is fsynced once before the rename.
      await mkdir(staging, { recursive: true });
      // All settle before a failure is thrown, so the cleanup below does not race a write still under way.
      const written = await Promise.allSettled([
        ...items.map(([item, data]) => writeNewFileDurable(join(staging, item), data)),
        writeNewFileDurable(join(staging, RECORD_FILE), recordMetaBody({ id, names, created: new Date().toISOString() })),
      ]);
      for (const w of written) if (w.status === 'rejected') throw w.reason;
      await fsyncDir(staging);
      failpoint('before-record-rename');
      await rename(staging, dir);
      await fsyncDir(layout.lists);
    } catch (e) {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      throw storeError('cannot create', dir, e);
    }
    const claimed: string[] = [];
    try {
      for (const name of names) {
        await claimName(layout, name, id);
        claimed.push(name);
      }
    } catch (e) {
      for (const name of claimed) await releaseName(layout, name, id).catch(() => undefined);
      await removeRecordDir(layout, id).catch(() => undefined);
      throw e;
    }
    return id;
  });
}

export async function writeItems(layout: Layout, id: string, items: Readonly<Record<string, Buffer>>): Promise<void> {
  checkId(id);
  const entries = checkItems(items);
  if ((await readRecordMeta(layout, id)) === undefined) throw notFound(layout, id);
  for (const [item, data] of entries) {
    const path = layout.itemPath(id, item);
    try {
      await writeFileAtomic(path, data);
    } catch (e) {
      throw storeError('cannot write', path, e);
    }
  }
}

/** The item's bytes, undefined if the record lacks that item; E_NOT_FOUND if there is no such record. */
export async function readItem(layout: Layout, id: string, item: string): Promise<Buffer | undefined> {
  const path = layout.itemPath(checkId(id), item);
  try {
    return readStoreFile(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw storeError('cannot read', path, e);
  }
  if ((await readRecordMeta(layout, id)) === undefined) throw notFound(layout, id);
  return undefined;
}

/** Like containers/storage: an exact id first, then a name, then a unique id prefix of at least 12 hex characters. */
export async function resolve(layout: Layout, nameOrId: string): Promise<string | undefined> {
  return (await lookup(layout, nameOrId))?.meta.id;
}

/**
 * What resolve() finds, with the record.json read on the way (each record.json and name file is read once: an exact
 * id's record.json is its metadata, and a name's owner comes with the record.json read to check the claim; a no-op
 * of a thousand specs looks up a thousand names). `claimed` is the name found pointing at it, if it was a name.
 */
async function lookup(layout: Layout, nameOrId: string): Promise<{ meta: ListRecord; claimed?: string } | undefined> {
  const byId = isId(nameOrId) ? await readRecordMeta(layout, nameOrId) : undefined;
  if (byId !== undefined) return { meta: byId };
  const owner = await nameOwnerRecord(layout, checkName(nameOrId));
  if (owner !== undefined) return { meta: owner, claimed: nameOrId };
  const byPrefix = await resolvePrefix(layout, nameOrId);
  return byPrefix && { meta: byPrefix };
}

/** The one list whose id starts with `prefix` (at least 12 hex characters), or undefined. */
async function resolvePrefix(layout: Layout, nameOrId: string): Promise<ListRecord | undefined> {
  if (!isIdPrefix(nameOrId)) return undefined;
  const matches: ListRecord[] = [];
  for (const id of await listIds(layout)) {
    const meta = id.startsWith(nameOrId) ? await readRecordMeta(layout, id) : undefined;
    if (meta !== undefined) matches.push(meta);
  }
  if (matches.length > 1) {
    throw new PlaitError(ErrorCodes.E_INVALID, `ambiguous list id prefix ${nameOrId}: ${matches.length} lists match`, {
      details: { prefix: nameOrId, matches: matches.map((m) => m.id) },
    });
  }
  return matches[0];
}

async function listIds(layout: Layout): Promise<string[]> {
  try {
    return (await readdir(layout.lists)).filter(isId);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw storeError('cannot read', layout.lists, e);
  }
}

/**
 * The metadata with only the names the index really gives this record (see names.ts for why they can differ).
 * `claimed` is a name just found pointing at this record, whose file need not be read again.
 */
async function effective(layout: Layout, meta: ListRecord, claimed?: string): Promise<ListRecord> {
  const names: string[] = [];
  for (const name of meta.names) if (name === claimed || (await isClaimedBy(layout, name, meta.id))) names.push(name);
  return { id: meta.id, names, created: meta.created };
}

/** The record `nameOrId` resolves to, or undefined when there is none. */
export async function findRecord(layout: Layout, nameOrId: string): Promise<ListRecord | undefined> {
  const found = await lookup(layout, nameOrId);
  return found && effective(layout, found.meta, found.claimed);
}

export async function getRecord(layout: Layout, nameOrId: string): Promise<ListRecord> {
  const record = await findRecord(layout, nameOrId);
  if (record === undefined) throw notFound(layout, nameOrId);
  return record;
}

export async function listRecords(layout: Layout): Promise<ListRecord[]> {
  const records: ListRecord[] = [];
  for (const id of await listIds(layout)) {
    const meta = await readRecordMeta(layout, id);
    if (meta !== undefined) records.push(await effective(layout, meta));
  }
  return records.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1));
}

async function mustRead(layout: Layout, id: string): Promise<ListRecord> {
  const meta = await readRecordMeta(layout, checkId(id));
  if (meta === undefined) throw notFound(layout, id);
  return meta;
}

export async function addNames(layout: Layout, id: string, names: readonly string[]): Promise<void> {
  const wanted = uniqueNames(names);
  checkId(id);
  await withRecordsLock(layout, async () => {
    const meta = await effective(layout, await mustRead(layout, id));
    const added: string[] = [];
    for (const name of wanted) {
      if (meta.names.includes(name)) continue;
      const owner = await nameOwner(layout, name);
      if (owner !== undefined) throw nameConflict(name, owner, layout.root);
      added.push(name);
    }
    if (added.length === 0) return;
    // record.json gains the names before their files exist (names.ts).
    await writeRecordMeta(layout, { ...meta, names: [...meta.names, ...added] });
    const claimed: string[] = [];
    try {
      for (const name of added) {
        await claimName(layout, name, id);
        claimed.push(name);
      }
    } catch (e) {
      for (const name of claimed) await releaseName(layout, name, id).catch(() => undefined);
      await writeRecordMeta(layout, meta).catch(() => undefined);
      throw e;
    }
  });
}

/** Names the list does not hold are ignored. */
export async function removeNames(layout: Layout, id: string, names: readonly string[]): Promise<void> {
  const dropped = new Set(uniqueNames(names));
  checkId(id);
  await withRecordsLock(layout, async () => {
    const meta = await effective(layout, await mustRead(layout, id));
    const removing = meta.names.filter((n) => dropped.has(n));
    if (removing.length === 0) return;
    // The files go before record.json drops the names (names.ts).
    for (const name of removing) await releaseName(layout, name, id);
    await writeRecordMeta(layout, { ...meta, names: meta.names.filter((n) => !dropped.has(n)) });
  });
}

/** Removes the list's names, then its directory; returns the id. Does not take the list's lock. */
export async function deleteRecord(layout: Layout, nameOrId: string): Promise<string> {
  const id = await resolve(layout, nameOrId);
  if (id === undefined) throw notFound(layout, nameOrId);
  await withRecordsLock(layout, async () => {
    const meta = await readRecordMeta(layout, id);
    if (meta === undefined) throw notFound(layout, nameOrId);
    for (const name of meta.names) await releaseName(layout, name, id);
    await removeRecordDir(layout, id);
  });
  return id;
}
