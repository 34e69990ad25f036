import { createHash } from 'node:crypto';
import { MAX_KEY_FILE_BYTES, readSecretFile } from '../core/sign/key-file.js';
import type { Digest } from '../oci/digest.js';
import { digestOf } from '../oci/digest.js';
import { formatPlatform } from '../oci/platform.js';
import type { Descriptor } from '../oci/types.js';
import { parseManifestList } from '../oci/manifest.js';
import { openImage } from '../transports/index.js';
import { List, cachedManifest } from '../core/list/list.js';
import type { Entry } from '../core/list/list.js';
import { warmLocks } from '../core/store/index.js';
import type { Store } from '../core/store/index.js';
import { computeDesired, entryKey } from './desired.js';
import type { Desired, DesiredEntry } from './desired.js';
import type { ResolveMemo } from './sources.js';
import { readHistory } from './history.js';
import type { HistoryEntry } from './history.js';
import type { ReconcileSpec } from './model.js';
import { destinationRef } from './paths.js';
import { adoptDestination, notAdoptable } from './adopt.js';
import { signersFor, signs, unsignedTags } from './signing.js';
import { variantsLacking } from './variants-needed.js';

// Plan = desired (from the sources) against the stored list (what plait last saved) and against what each
// destination tag points at. The list is rebuilt through the core on a copy — upsert by platform, prune, entry and
// index annotations — and the push is needed unless the stored history says this exact list, pushed this exact way,
// is what every tag already names.

export type ActionKind =
  | 'create-list' | 'add-instance' | 'remove-instance' | 'replace-instance' | 'annotate-instance' | 'annotate-index'
  | 'add-variant' | 'push-list' | 'move-tag' | 'sign';

export interface Action {
  kind: ActionKind;
  /** A digest, platform or tag. */
  target: string;
  detail: string;
}

export interface TagState {
  tag: string;
  ref: string;
  current?: Digest;
}

export interface Plan {
  spec: ReconcileSpec;
  listId?: string;
  desired: Desired;
  storedBytes?: Buffer;
  newBytes: Buffer;
  listChanged: boolean;
  fingerprint: string;
  /** What every tag should point at, when a past push with this fingerprint says so (or the destination does). */
  expected?: HistoryEntry;
  /** `expected` was found at the destination, not in the push history (a fresh store): apply records it. */
  adopted: boolean;
  /** Tags whose signatures are missing for the expected list (they are signed without pushing anything). */
  unsigned: string[];
  tags: TagState[];
  actions: Action[];
  inSync: boolean;
}

export { destinationRef } from './paths.js';

function toEntry(e: DesiredEntry): Entry {
  return {
    digest: e.digest, size: e.size, os: e.platform.os, architecture: e.platform.architecture,
    osVersion: e.platform['os.version'] ?? '', osFeatures: [...(e.platform['os.features'] ?? [])], variant: e.platform.variant ?? '',
    features: e.features, artifactType: e.artifactType, annotations: e.annotations, urls: e.urls,
  };
}

/** Rebuild `list` toward the desired entries (in place), as apply does under the lock. */
export function rebuild(list: List, desired: Desired, spec: ReconcileSpec): void {
  const wanted = new Map(desired.entries.map((e) => [e.digest as string, e]));
  const keys = new Set(desired.entries.map((e) => e.key));
  for (const d of list.list.instances()) {
    if (wanted.has(d)) continue;
    const key = entryKey({
      os: list.list.os(d), architecture: list.list.architecture(d), variant: list.list.variant(d),
      'os.version': list.list.osVersion(d), 'os.features': list.list.osFeatures(d),
    });
    // Upsert by platform replaces whatever held the platform; prune removes what no source yields.
    if (keys.has(key) || spec.prune) list.remove(d);
  }
  for (const e of desired.entries) list.addResolved(toEntry(e), e.facts, e.sourceName);
  list.list.clearAnnotations(null);
  if (spec.annotations && Object.keys(spec.annotations).length > 0) list.list.setAnnotations(null, spec.annotations);
}

async function fileHash(path: string | undefined): Promise<string> {
  if (!path) return '';
  try {
    // Bounded: a spec naming /dev/zero as its key must not stall the plan (the signer then says what is wrong).
    return createHash('sha256').update(await readSecretFile(path, { kind: 'key file', maxBytes: MAX_KEY_FILE_BYTES })).digest('hex');
  } catch {
    return 'missing';
  }
}

/** Everything that decides what a push writes, hashed. */
export async function fingerprintOf(spec: ReconcileSpec, listBytes: Buffer): Promise<string> {
  const sig = spec.signatures;
  const keys = sig ? await Promise.all([...sig.sigstore.map((s) => fileHash(s.privateKey.file)), ...sig.gpg.map((g) => fileHash(g.key.file))]) : [];
  return createHash('sha256').update(JSON.stringify({
    list: digestOf(listBytes), format: spec.format, destination: spec.destination.image,
    compression: spec.compression ?? null, removeSource: sig?.removeSource ?? false, keys,
    lookaside: sig?.gpg.map((g) => g.lookaside ?? '') ?? [],
    ...(spec.referrers && { referrers: spec.referrers }),
    // Only when set, so that the fingerprints of specs written before these options existed stay as they were.
    ...(spec.keepInstances && { keepInstances: true }),
    ...(spec.listIndent !== undefined && { listIndent: spec.listIndent }),
  })).digest('hex');
}

function describe(d: Descriptor): string {
  return d.platform ? formatPlatform(d.platform, { osVersion: true }) : 'no platform';
}

function diffActions(stored: Buffer | undefined, next: Buffer): Action[] {
  // The same bytes are the same list: nothing to compare (the common no-op, spared two parses).
  if (stored?.equals(next)) return [];
  const before = stored ? parseManifestList(stored).index : { schemaVersion: 2 as const, manifests: [] };
  const after = parseManifestList(next).index;
  const b = new Map((before.manifests ?? []).map((d) => [d.digest as string, d]));
  const a = new Map((after.manifests ?? []).map((d) => [d.digest as string, d]));
  const actions: Action[] = [];
  const addedByPlatform = new Map<string, Descriptor>();
  for (const [dg, d] of a) if (!b.has(dg)) addedByPlatform.set(describe(d), d);
  for (const [dg, d] of b) {
    if (a.has(dg)) continue;
    const repl = addedByPlatform.get(describe(d));
    if (repl) {
      actions.push({ kind: 'replace-instance', target: describe(d), detail: `${dg} → ${repl.digest}` });
      addedByPlatform.delete(describe(d));
    } else {
      actions.push({ kind: 'remove-instance', target: dg, detail: describe(d) });
    }
  }
  for (const [p, d] of addedByPlatform) actions.push({ kind: 'add-instance', target: d.digest, detail: p });
  for (const [dg, d] of a) {
    const old = b.get(dg);
    if (old && (JSON.stringify(old.annotations ?? {}) !== JSON.stringify(d.annotations ?? {}) || describe(old) !== describe(d))) {
      actions.push({ kind: 'annotate-instance', target: dg, detail: describe(d) });
    }
  }
  if (JSON.stringify(before.annotations ?? {}) !== JSON.stringify(after.annotations ?? {})) {
    actions.push({ kind: 'annotate-index', target: 'index', detail: Object.keys(after.annotations ?? {}).join(', ') || 'cleared' });
  }
  return actions;
}

export interface PlanOptions {
  /** The plan is applied next (not a dry run). */
  toApply?: boolean;
}

export async function plan(spec: ReconcileSpec, store: Store, memo?: ResolveMemo, opts: PlanOptions = {}): Promise<Plan> {
  // Looked up by the spec's name, not resolved to an id first: the name file and record.json are read once each.
  const recordPending = store.findRecord(spec.name);
  recordPending.catch(() => undefined);
  // What the destination tags point at does not depend on the sources: asked at once, the tags' HEADs travel beside
  // the sources' instead of after them (one round trip less on every plan, a no-op's two HEADs at the same time).
  // A source's error is still the one reported: the tags are awaited only after the desired list is known.
  const tagsPending = Promise.all(spec.destination.tags.map(async (tag): Promise<TagState> => {
    const ref = destinationRef(spec.destination.image, tag);
    const r = await openImage(ref, spec.transport, 'destination').resolve();
    return { tag, ref, ...(r && { current: r.digest }) };
  }));
  tagsPending.catch(() => undefined);
  if (opts.toApply === true) {
    // A list the store does not have yet is created by the apply, under a lock: the lock code loads while this plan
    // still waits on the sources (a cold apply, as a CI job with an empty store makes), not before the first lock.
    // Once the tags have answered, the sources' requests are on the wire too.
    Promise.all([recordPending, tagsPending]).then(([rec]) => rec === undefined && warmLocks(), () => undefined);
  }
  const desired = await computeDesired(spec, store, memo);
  const rec = await recordPending;
  const stored = rec && (await List.loadRecord(store, rec));
  const listId = stored?.id;
  let list: List;
  let storedBytes: Buffer | undefined;
  let history: HistoryEntry[] = [];
  if (stored) {
    ({ list, bytes: storedBytes } = stored);
    history = await readHistory(store, stored.id);
  } else {
    list = List.create();
  }
  rebuild(list, desired, spec);
  const newBytes = list.serialize();
  const listChanged = !storedBytes || !newBytes.equals(storedBytes);
  const fingerprint = await fingerprintOf(spec, newBytes);
  const historyMatch = [...history].reverse().find((h) => h.fingerprint === fingerprint && h.destination === spec.destination.image);

  const tags = await tagsPending;

  let expected = historyMatch;
  let adopted = false;
  if (!expected) {
    // No push history for this exact list: the destination may already serve it (a fresh store). Ask it.
    let found: Awaited<ReturnType<typeof adoptDestination>>;
    try {
      // A forced compression's rewritten instances are judged against the source instances, read where they came from.
      const sourceOf = new Map(desired.entries.map((e) => [e.digest as string, e.sourceName]));
      const sourceManifest = async (d: Digest) => (await cachedManifest(store, d))
        ?? openImage(sourceOf.get(d) ?? '', spec.transport, 'source').getManifest(d);
      found = await adoptDestination(spec, store, newBytes, tags, sourceManifest);
    } catch (e) {
      if (!notAdoptable(e)) throw e;
    }
    if (found) {
      adopted = true;
      expected = {
        digest: found.digest, mediaType: found.mediaType, bytes: found.bytes.toString('base64'), fingerprint,
        destination: spec.destination.image, tags: tags.filter((t) => t.current === found.digest).map((t) => t.tag), pushedAt: '',
      };
    }
  }

  // Signatures: a tag the recorded push signed is taken as signed (no reads on a no-op); a tag it did not sign, or
  // any tag of an adopted list, is checked at the destination.
  let unsigned: string[] = [];
  if (expected && signs(spec)) {
    const toCheck = adopted ? spec.destination.tags : spec.destination.tags.filter((t) => !expected.tags.includes(t));
    if (toCheck.length > 0) {
      const signers = await signersFor(spec);
      for (const s of signers) await s.prepare();
      const bytes = Buffer.from(expected.bytes, 'base64');
      // A tag about to move is signed by the move; one that already points at the list may have its signatures.
      const present = toCheck.filter((t) => tags.find((x) => x.tag === t)?.current === expected.digest);
      const missing = await unsignedTags(spec, signers, present, bytes, expected.digest);
      unsigned = toCheck.filter((t) => !present.includes(t) || missing.includes(t));
    }
  }

  const actions: Action[] = [];
  // An adopted list needs no change anywhere but in the local cache, which apply fills without being asked.
  if (!adopted) {
    if (!listId) actions.push({ kind: 'create-list', target: spec.name, detail: 'in the store' });
    actions.push(...diffActions(storedBytes, newBytes));
  }
  if (!expected) {
    for (const v of spec.compression?.variants ?? []) {
      const lacking = await variantsLacking(store, newBytes, v, spec.compression?.level);
      if (lacking.length > 0) actions.push({ kind: 'add-variant', target: v, detail: `for ${lacking.join(', ')}` });
    }
    actions.push({ kind: 'push-list', target: spec.destination.image, detail: `tags ${spec.destination.tags.join(', ')}` });
    for (const s of spec.signatures?.sigstore ?? []) actions.push({ kind: 'sign', target: 'sigstore', detail: s.privateKey.file ?? 'key' });
    for (const g of spec.signatures?.gpg ?? []) actions.push({ kind: 'sign', target: 'gpg', detail: g.key.file ?? 'key' });
  } else {
    for (const t of tags) {
      if (t.current !== expected.digest) actions.push({ kind: 'move-tag', target: t.tag, detail: `${t.current ?? 'absent'} → ${expected.digest}` });
    }
    for (const t of unsigned) {
      const kinds = [...(spec.signatures?.sigstore.length ? ['sigstore'] : []), ...(spec.signatures?.gpg.length ? ['gpg'] : [])].join(', ');
      actions.push({ kind: 'sign', target: t, detail: `${kinds} for every manifest of ${expected.digest}` });
    }
  }
  return {
    spec, listId, desired, storedBytes, newBytes, listChanged, fingerprint, expected, adopted, unsigned, tags, actions,
    inSync: (!listChanged || adopted) && expected !== undefined && unsigned.length === 0 && tags.every((t) => t.current === expected.digest),
  };
}
