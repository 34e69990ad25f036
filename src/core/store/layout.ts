import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCodes, PlaitError } from '../../errors.js';

// Where everything lives under the store root, and the validation that runs before any caller-supplied string becomes
// part of a path: ids are 64 lowercase hex, item names use a small alphabet, list names are percent-encoded, so no
// input can name a file outside the root.

export const ID_RE = /^[0-9a-f]{64}$/;
const ID_PREFIX_RE = /^[0-9a-f]{12,63}$/;
const ITEM_RE = /^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,199}$/;
/** The record's own metadata file; not usable as a data item name. */
export const RECORD_FILE = 'record.json';
// Encoded names longer than this are stored under a hash so they stay below NAME_MAX (255 bytes) on every filesystem.
const MAX_ENCODED_NAME = 200;

export class Layout {
  readonly lists: string;
  readonly names: string;
  readonly locks: string;
  readonly facts: string;

  constructor(readonly root: string) {
    this.lists = join(root, 'lists');
    this.names = join(root, 'names');
    this.locks = join(root, 'locks');
    this.facts = join(root, 'facts');
  }

  recordDir(id: string): string {
    return join(this.lists, checkId(id));
  }

  itemPath(id: string, item: string): string {
    return join(this.recordDir(id), checkItemName(item));
  }

  recordFile(id: string): string {
    return join(this.recordDir(id), RECORD_FILE);
  }

  nameFile(name: string): string {
    return join(this.names, encodeName(checkName(name)));
  }

  lockTarget(id: string): string {
    return join(this.locks, checkId(id));
  }
}

export function isId(s: string): boolean {
  return ID_RE.test(s);
}

export function isIdPrefix(s: string): boolean {
  return ID_PREFIX_RE.test(s);
}

export function checkId(id: string): string {
  if (!ID_RE.test(id)) {
    throw new PlaitError(ErrorCodes.E_INVALID, `store: invalid list id "${id}" (want 64 lowercase hex characters)`, {
      details: { id },
    });
  }
  return id;
}

export function checkItemName(item: string): string {
  if (!ITEM_RE.test(item) || item === RECORD_FILE) {
    throw new PlaitError(
      ErrorCodes.E_INVALID,
      `store: invalid data item name "${item}" (letters, digits and . _ : @ + = -, not starting with a dot, not "${RECORD_FILE}")`,
      { details: { item } },
    );
  }
  return item;
}

export function checkName(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name === '' || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new PlaitError(ErrorCodes.E_INVALID, `store: invalid list name ${JSON.stringify(name)}`, { details: { name } });
  }
  return name;
}

/**
 * The file name of a list name in the names index. encodeURIComponent keeps "." as is, so a leading dot is escaped too
 * (otherwise "." and ".." would name directories, and ".x" could look like a temp file).
 */
export function encodeName(name: string): string {
  const enc = encodeURIComponent(name).replace(/^\./, '%2E');
  if (Buffer.byteLength(enc) <= MAX_ENCODED_NAME) return enc;
  // "#" never appears in encodeURIComponent output, so hashed entries cannot collide with plain ones.
  return `#sha256-${createHash('sha256').update(name).digest('hex')}`;
}

export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = e.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Pass PlaitErrors through; anything else from the filesystem becomes E_STORE naming the operation and path. */
export function storeError(what: string, path: string, e: unknown): PlaitError {
  if (e instanceof PlaitError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new PlaitError(ErrorCodes.E_STORE, `store: ${what} ${path}: ${msg}`, { cause: e, details: { path } });
}
