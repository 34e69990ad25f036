import { ErrorCodes, PlaitError } from '../../errors.js';
import { writeFileAtomic } from '../../fsutil.js';
import { errnoCode, isId, storeError } from './layout.js';
import type { Layout } from './layout.js';
import { readStoreFile } from './read.js';

/** A list record as stored in `record.json`. */
export interface ListRecord {
  id: string;
  names: string[];
  /** RFC 3339 UTC timestamp of creation. */
  created: string;
}

function isRecord(v: unknown, id: string): v is ListRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    r.id === id &&
    typeof r.created === 'string' &&
    Array.isArray(r.names) &&
    r.names.every((n): n is string => typeof n === 'string')
  );
}

/** The record's metadata, or undefined if there is no such record. */
export function readRecordMeta(layout: Layout, id: string): Promise<ListRecord | undefined> {
  // A throw in the executor (a bad name, an unreadable file) is the rejection, as from an async function.
  return new Promise((resolve) => resolve(readRecordMetaNow(layout, id)));
}

function readRecordMetaNow(layout: Layout, id: string): ListRecord | undefined {
  if (!isId(id)) return undefined;
  const path = layout.recordFile(id);
  let text: string;
  try {
    text = readStoreFile(path).toString('utf8');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw storeError('cannot read', path, e);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // Written atomically, so a bad file means outside damage; refuse it rather than guess.
  if (!isRecord(parsed, id)) {
    throw new PlaitError(ErrorCodes.E_STORE, `store: corrupt list record ${path}`, { details: { path, id } });
  }
  return { id: parsed.id, names: [...parsed.names], created: parsed.created };
}

/** record.json's bytes. */
export function recordMetaBody(meta: ListRecord): string {
  return JSON.stringify({ id: meta.id, names: meta.names, created: meta.created }, null, 2) + '\n';
}

export async function writeRecordMeta(layout: Layout, meta: ListRecord): Promise<void> {
  const path = layout.recordFile(meta.id);
  const body = recordMetaBody(meta);
  try {
    await writeFileAtomic(path, body);
  } catch (e) {
    throw storeError('cannot write', path, e);
  }
}
