import { mkdir, open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { fsyncDir } from '../../fsutil.js';
import { errnoCode, isId, storeError } from './layout.js';
import type { Layout } from './layout.js';
import { readRecordMeta } from './recordfile.js';
import type { ListRecord } from './recordfile.js';
import { readStoreFile } from './read.js';

// The names index: `names/<encoded name>` holds the id of the list that owns the name. A claim counts only while the
// file holds a well-formed id AND that record's record.json lists the name. Mutators keep the order "record.json
// gains a name before the file is created; the file goes before record.json drops the name", so a crash at any point
// leaves at worst a record.json naming a name it does not own (ignored) or a file that no record backs (dangling,
// and taken over by the next claim).

function readNameFile(layout: Layout, name: string): Promise<string | undefined> {
  // A throw in the executor (a bad name, an unreadable file) is the rejection, as from an async function.
  return new Promise((resolve) => resolve(readNameFileNow(layout, name)));
}

function readNameFileNow(layout: Layout, name: string): string | undefined {
  const path = layout.nameFile(name);
  try {
    const id = readStoreFile(path).toString('utf8').trim();
    return isId(id) ? id : undefined;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw storeError('cannot read', path, e);
  }
}

/** The record of the list that owns `name` (its record.json, read to check the claim), or undefined. */
export async function nameOwnerRecord(layout: Layout, name: string): Promise<ListRecord | undefined> {
  const id = await readNameFile(layout, name);
  if (id === undefined) return undefined;
  const meta = await readRecordMeta(layout, id);
  return meta?.names.includes(name) === true ? meta : undefined;
}

/** The id of the list that owns `name`, or undefined. */
export async function nameOwner(layout: Layout, name: string): Promise<string | undefined> {
  return (await nameOwnerRecord(layout, name))?.id;
}

/** Whether the names index points `name` at `id` (record.json is assumed to list it already). */
export async function isClaimedBy(layout: Layout, name: string, id: string): Promise<boolean> {
  return (await readNameFile(layout, name)) === id;
}

export function nameConflict(name: string, owner: string, root: string): PlaitError {
  return new PlaitError(ErrorCodes.E_CONFLICT, `the name "${name}" is already used by list ${owner} in the store ${root}`, {
    details: { name, owner },
  });
}

/**
 * Creates the name file for `id`. Callers hold the store's records lock, so an existing file that no record backs
 * is crash debris and may be replaced; one that a record backs is a conflict.
 */
export async function claimName(layout: Layout, name: string, id: string): Promise<void> {
  const path = layout.nameFile(name);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(`${id}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsyncDir(dirname(path));
      return;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' && attempt === 0) {
        await mkdir(dirname(path), { recursive: true });
        continue;
      }
      if (errnoCode(e) !== 'EEXIST') throw storeError('cannot create', path, e);
    }
    const owner = await nameOwner(layout, name);
    if (owner === id) return;
    if (owner !== undefined || attempt >= 2) throw nameConflict(name, owner ?? 'unknown', layout.root);
    await unlinkIfPresent(path);
  }
}

/** Removes the name file if it points at `id` (or at nothing valid); never takes a name from another list. */
export async function releaseName(layout: Layout, name: string, id: string): Promise<void> {
  const current = await readNameFile(layout, name);
  if (current !== undefined && current !== id) return;
  await unlinkIfPresent(layout.nameFile(name));
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw storeError('cannot remove', path, e);
    return;
  }
  await fsyncDir(dirname(path)).catch(() => undefined);
}
