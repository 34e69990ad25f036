import { unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { replaceFile } from '../../fsutil.js';
import { sweepTempFiles } from './sweep.js';
import { readStoreFile } from './read.js';
import { errnoCode, storeError } from './layout.js';
import type { Layout } from './layout.js';

// Immutable facts about content, keyed by its digest (a manifest's platform, a blob's size…), so a reconcile that
// changes nothing needs no registry round trips. Content behind a digest never changes, hence no invalidation; a
// damaged file is only a cache miss. Kind and digest are validated before they become a path.

const KIND_RE = /^[a-z0-9-]{1,64}$/;
const DIGEST_RE = /^(?:(sha256):([0-9a-f]{64})|(sha512):([0-9a-f]{128}))$/;

interface FactFile {
  kind: string;
  digest: string;
  value: unknown;
}

export function factPath(layout: Layout, kind: string, digest: string): string {
  if (!KIND_RE.test(kind)) {
    throw new PlaitError(ErrorCodes.E_INVALID, `store: invalid fact kind "${kind}" (lowercase letters, digits, -)`, {
      details: { kind },
    });
  }
  const m = DIGEST_RE.exec(digest);
  const alg = m?.[1] ?? m?.[3];
  const hex = m?.[2] ?? m?.[4];
  if (alg === undefined || hex === undefined) {
    throw new PlaitError(ErrorCodes.E_INVALID, `store: invalid digest "${digest}" (want sha256:<64 hex> or sha512:<128 hex>)`, {
      details: { digest },
    });
  }
  return join(layout.facts, kind, alg, `${hex}.json`);
}

function isFactFile(v: unknown, kind: string, digest: string): v is FactFile {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  return f.kind === kind && f.digest === digest && 'value' in f;
}

/**
 * The stored value, or undefined when absent or damaged (a damaged file is removed). Without `guard` the value is
 * trusted to be a T because only putFact writes it; with one, a value failing it also counts as damaged.
 */
export async function getFact<T>(
  layout: Layout,
  kind: string,
  digest: string,
  guard?: (v: unknown) => v is T,
): Promise<T | undefined> {
  const path = factPath(layout, kind, digest);
  let text: string;
  try {
    text = readStoreFile(path).toString('utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw storeError('cannot read', path, e);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (isFactFile(parsed, kind, digest) && (guard === undefined || guard(parsed.value))) return parsed.value as T;
  await unlink(path).catch(() => undefined);
  return undefined;
}

// A crashed writer's temp files sit beside the facts; each facts dir is swept once per process, on its first write.
const sweptDirs = new Set<string>();

export async function putFact(layout: Layout, kind: string, digest: string, value: unknown): Promise<void> {
  const path = factPath(layout, kind, digest);
  const dir = dirname(path);
  if (!sweptDirs.has(dir)) {
    sweptDirs.add(dir);
    await sweepTempFiles(dir);
  }
  // The declared return type says string, but undefined, functions and symbols give undefined.
  let valueJson: string | undefined;
  try {
    valueJson = JSON.stringify(value);
  } catch (e) {
    throw new PlaitError(ErrorCodes.E_INVALID, `store: fact ${kind} ${digest} is not JSON-serialisable`, { cause: e });
  }
  if (valueJson === undefined) {
    throw new PlaitError(ErrorCodes.E_INVALID, `store: fact ${kind} ${digest} has no JSON value`);
  }
  const body = `{"kind":${JSON.stringify(kind)},"digest":${JSON.stringify(digest)},"value":${valueJson}}`;
  // A fact is a cache entry whose every read is checked (isFactFile, and the caller's guard or digest): it is
  // replaced atomically but not fsynced, since losing one to a crash costs a registry round trip, no more.
  try {
    await replaceFile(path, body + '\n');
  } catch (e) {
    throw storeError('cannot write', path, e);
  }
}
