import { Buffer } from 'node:buffer';
import { PlaitError, ErrorCodes } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { DOCKER_LIST, OCI_INDEX } from '../oci/mediatype.js';
import { openImage } from '../transports/index.js';
import { INSTANCES_ITEM, List, MANIFEST_ITEM } from '../core/list/list.js';
import { createList } from '../core/list/ops.js';
import { push } from '../core/list/push.js';
import type { CopyProgress } from '../core/copy/copy.js';
import type { Store } from '../core/store/index.js';
import { HISTORY_ITEM, appendHistory, readHistory } from './history.js';
import type { HistoryEntry } from './history.js';
import { destinationRef, fingerprintOf, rebuild } from './plan.js';
import type { Plan } from './plan.js';
import type { Signer } from '../core/sign/index.js';
import { identityFor, signTags, signersFor } from './signing.js';

// Apply a plan through the core: under the list's lock the stored list is reloaded, rebuilt toward the desired
// entries and saved (SaveToImage under the same ID); then, only if the destination is not already right, the list is
// pushed (children by digest, the list under every tag) or just its tags are moved, and the push is recorded.

export type Outcome = 'in-sync' | 'pushed' | 'tags-moved' | 'signed';

export interface ApplyResult {
  name: string;
  outcome: Outcome;
  digest: Digest;
  bytesCopied: number;
  instances: number;
}

export interface ApplyOptions {
  jobs?: number;
  onProgress?: (p: CopyProgress) => void;
  now?: () => Date;
}

export { signersFor } from './signing.js';

/** The list's items as they are before an apply, so that a failed apply can put them back. */
async function snapshot(store: Store, name: string): Promise<{ id: string; items: Record<string, Buffer> } | undefined> {
  const id = await store.resolve(name);
  if (!id) return undefined;
  const items: Record<string, Buffer> = {};
  for (const item of [MANIFEST_ITEM, INSTANCES_ITEM, HISTORY_ITEM]) {
    const b = await store.readItem(id, item);
    if (b) items[item] = b;
  }
  return { id, items };
}

export async function applyPlan(p: Plan, store: Store, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const spec = p.spec;
  const instances = p.desired.entries.length;
  if (p.inSync && p.expected && !p.adopted) return { name: spec.name, outcome: 'in-sync', digest: p.expected.digest, bytesCopied: 0, instances };
  if (instances === 0) throw new PlaitError(ErrorCodes.E_INVALID, `${spec.origin}: the desired list has no instances; nothing was pushed`);

  // Keys are read and decrypted before the store is touched: a wrong passphrase changes nothing anywhere.
  const signers = await signersFor(spec);
  for (const s of signers) await s.prepare();

  // A writer of the same spec that created the list and then failed deletes it (see below), possibly while this one
  // waited for the lock on it: then this apply starts over on a list of its own, a few times at most.
  for (let attempt = 1; ; attempt++) {
    const before = await snapshot(store, spec.name);
    let created = false;
    if (!before) {
      try {
        await createList(store, spec.name);
        created = true;
      } catch (e) {
        // Another apply of the same spec created it meanwhile: carry on with that one.
        if (!(e instanceof PlaitError && e.code === ErrorCodes.E_CONFLICT)) throw e;
      }
    }
    const rec = await store.getRecord(spec.name);
    const result = await store.withListLock(rec.id, async () => {
      if (!created && (await store.resolve(spec.name)) !== rec.id) return undefined;
      try {
        return await applyLocked(p, store, rec.id, signers, opts);
      } catch (e) {
        // A failed apply leaves the store as it was: a list this apply created goes, an existing one gets its items back.
        if (created) await store.deleteRecord(rec.id).catch(() => undefined);
        else if (before && before.id === rec.id) await store.writeItems(rec.id, before.items).catch(() => undefined);
        throw e;
      }
    }, { label: spec.name });
    if (result) return result;
    if (attempt === 3) {
      throw new PlaitError(ErrorCodes.E_CONFLICT, `${spec.name}: the list was removed by another writer while this apply waited for it, ${attempt} times; nothing was pushed`, { retryable: true });
    }
  }
}

async function applyLocked(p: Plan, store: Store, recId: string, signers: Signer[], opts: ApplyOptions): Promise<ApplyResult> {
  const spec = p.spec;
  const instances = p.desired.entries.length;
  const { id, list } = await List.loadFromImage(store, recId);
  rebuild(list, p.desired, spec);
  const before = await store.readItem(id, 'manifest');
  const bytes = list.serialize();
  if (!before || !bytes.equals(before)) await list.saveToImage(store, id, [], '');
  const fingerprint = await fingerprintOf(spec, bytes);
  const history = await readHistory(store, id);
  let expected = [...history].reverse().find((h) => h.fingerprint === fingerprint && h.destination === spec.destination.image);
  let record = false;
  if (!expected && p.adopted && p.expected && p.fingerprint === fingerprint) {
    // The destination already serves this list (found by the plan): it is recorded, not pushed again.
    expected = p.expected;
    record = true;
  }

  if (expected) {
    // The right list was pushed before; only tags that point elsewhere (or nowhere) move, and only tags without
    // their signatures are signed.
    const listBytes = Buffer.from(expected.bytes, 'base64');
    const moved: string[] = [];
    for (const t of p.tags) {
      if (t.current === expected.digest) continue;
      await openImage(t.ref, spec.transport, 'destination').putManifest(listBytes, expected.mediaType, t.tag);
      moved.push(t.tag);
    }
    const toSign = signers.length > 0 ? [...new Set([...moved, ...p.unsigned])] : [];
    if (toSign.length > 0) await signTags(spec, signers, toSign, listBytes, expected.digest);
    if (record || moved.length > 0 || toSign.length > 0) {
      // The tags now served (and signed) are recorded, so the next plan needs no reads to know it.
      await appendHistory(store, id, { ...expected, fingerprint, tags: [...spec.destination.tags], pushedAt: (opts.now?.() ?? new Date()).toISOString() }, spec.historyLimit);
    }
    const outcome: Outcome = moved.length > 0 ? 'tags-moved' : toSign.length > 0 ? 'signed' : 'in-sync';
    return { name: spec.name, outcome, digest: expected.digest, bytesCopied: 0, instances };
  }

  const [firstTag, ...moreTags] = spec.destination.tags;
  const dest = openImage(destinationRef(spec.destination.image, firstTag!), spec.transport, 'destination');
  const variants = spec.compression?.variants ?? [];
  // force: the first variant becomes the regular instances' own compression (ForceCompressionFormat); the rest
  // are added as clones.
  const force = spec.compression?.force === true && variants.length > 0;
  const result = await push(store, list, dest, {
    selection: 'all',
    ...(spec.format === 'docker' ? (spec.keepInstances ? { listType: DOCKER_LIST } : { manifestType: 'v2s2' }) : { listType: OCI_INDEX }),
    ...(spec.listIndent !== undefined && { listIndent: spec.listIndent }),
    tags: [firstTag!, ...moreTags],
    transport: spec.transport,
    jobs: opts.jobs ?? 4,
    onProgress: opts.onProgress,
    addCompression: force ? variants.slice(1) : variants,
    ...(force && { forceCompressionFormat: true, compressionFormat: variants[0] }),
    ...(spec.compression?.level !== undefined && { compressionLevel: spec.compression.level }),
    cacheStore: store,
    signers,
    ...(spec.referrers && { referrers: spec.referrers, removeSignatures: spec.signatures?.removeSource === true }),
    ...(signers.length > 0 && { identities: spec.destination.tags.map((t) => identityFor(spec, t)) }),
  });
  const entry: HistoryEntry = {
    digest: result.digest,
    mediaType: spec.format === 'docker' ? DOCKER_LIST : result.mediaType,
    pushedAt: (opts.now?.() ?? new Date()).toISOString(),
    fingerprint,
    destination: spec.destination.image,
    tags: spec.destination.tags,
    bytes: result.bytes.toString('base64'),
  };
  await appendHistory(store, id, entry, spec.historyLimit);
  return { name: spec.name, outcome: 'pushed', digest: result.digest, bytesCopied: result.bytesCopied, instances };
}

/** Re-point every destination tag at an earlier push that still exists there (default: the one before the last). */
export async function rollback(store: Store, name: string, spec: { destination: { image: string; tags: string[] }; transport: Plan['spec']['transport'] }, to?: string): Promise<HistoryEntry> {
  const rec = await store.getRecord(name);
  const history = await readHistory(store, rec.id);
  const mine = history.filter((h) => h.destination === spec.destination.image);
  let target: HistoryEntry | undefined;
  if (to) {
    target = [...mine].reverse().find((h) => h.digest === to || h.digest.replace('sha256:', '').startsWith(to));
    if (!target) throw new PlaitError(ErrorCodes.E_NOT_FOUND, `${name}: ${to} is not in the push history for ${spec.destination.image}`);
  } else {
    const distinct = mine.filter((h, i) => i === 0 || h.digest !== mine[i - 1]!.digest);
    target = distinct[distinct.length - 2];
    if (!target) throw new PlaitError(ErrorCodes.E_NOT_FOUND, `${name}: no earlier push to roll back to`);
  }
  const probe = openImage(destinationRef(spec.destination.image, spec.destination.tags[0]!), spec.transport, 'destination');
  if (!(await probe.resolve(target.digest))) {
    throw new PlaitError(ErrorCodes.E_NOT_FOUND, `${name}: ${target.digest} no longer exists at ${spec.destination.image}`);
  }
  for (const tag of spec.destination.tags) {
    await openImage(destinationRef(spec.destination.image, tag), spec.transport, 'destination').putManifest(Buffer.from(target.bytes, 'base64'), target.mediaType, tag);
  }
  return target;
}
