import { PlaitError, ErrorCodes } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Store } from '../core/store/index.js';

// The last pushes of a list, kept with the list's record (item history.json): what was pushed, when, where, and the
// fingerprint of what produced it — so a no-op needs no GET to know what the destination should hold, and rollback
// can re-point tags at an earlier push.

export const HISTORY_ITEM = 'history.json';

export interface HistoryEntry {
  digest: Digest;
  mediaType: string;
  pushedAt: string;
  /** Hash of the stored list bytes and everything else that shaped the push (format, variants, signers, destination). */
  fingerprint: string;
  destination: string;
  tags: string[];
  /** The pushed list bytes, base64 — small (a list), and needed to move a tag without a GET. */
  bytes: string;
}

export async function readHistory(store: Store, id: string): Promise<HistoryEntry[]> {
  const raw = await store.readItem(id, HISTORY_ITEM);
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw.toString('utf8')) as unknown;
    return Array.isArray(parsed) ? (parsed as HistoryEntry[]) : [];
  } catch {
    throw new PlaitError(ErrorCodes.E_STORE, `list ${id}: ${HISTORY_ITEM} is not valid JSON`);
  }
}

/** Append (newest last), keeping at most `limit`; call with the list's lock held. */
export async function appendHistory(store: Store, id: string, entry: HistoryEntry, limit: number): Promise<void> {
  const all = [...(await readHistory(store, id)), entry].slice(-Math.max(1, limit));
  await store.writeItems(id, { [HISTORY_ITEM]: Buffer.from(JSON.stringify(all, null, 1)) });
}
