import { Buffer } from 'node:buffer';
import { PlaitError, ErrorCodes } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { DOCKER_LIST, OCI_INDEX } from '../oci/mediatype.js';
import { openImage } from '../transports/index.js';
import { List } from '../core/list/list.js';
import { createList } from '../core/list/ops.js';
import { push } from '../core/list/push.js';
import type { CopyProgress } from '../core/copy/copy.js';
import type { Store } from '../core/store/index.js';
import { appendHistory, readHistory } from './history.js';
import type { HistoryEntry } from './history.js';
import { destinationRef, fingerprintOf, rebuild } from './plan.js';
import type { Plan } from './plan.js';
import type { Signer } from '../core/sign/index.js';

// Apply a plan through the core: under the list's lock the stored list is reloaded, rebuilt toward the desired
// entries and saved (SaveToImage under the same ID); then, only if the destination is not already right, the list is
// pushed (children by digest, the list under every tag) or just its tags are moved, and the push is recorded.

export type Outcome = 'in-sync' | 'pushed' | 'tags-moved';

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

export async function applyPlan(p: Plan, store: Store, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const spec = p.spec;
  const instances = p.desired.entries.length;
  if (p.inSync && p.expected) return { name: spec.name, outcome: 'in-sync', digest: p.expected.digest, bytesCopied: 0, instances };

  if (!(await store.resolve(spec.name))) {
    try {
      await createList(store, spec.name);
    } catch (e) {
      // Another apply of the same spec created it meanwhile: carry on with that one.
      if (!(e instanceof PlaitError && e.code === ErrorCodes.E_CONFLICT)) throw e;
    }
  }
  const rec = await store.getRecord(spec.name);
  return store.withListLock(rec.id, async () => {
    const { id, list } = await List.loadFromImage(store, rec.id);
    rebuild(list, p.desired, spec);
    const before = await store.readItem(id, 'manifest');
    const bytes = list.serialize();
    if (!before || !bytes.equals(before)) await list.saveToImage(store, id, [], '');
    const fingerprint = await fingerprintOf(spec, bytes);
    const history = await readHistory(store, id);
    const expected = [...history].reverse().find((h) => h.fingerprint === fingerprint && h.destination === spec.destination.image);

    if (expected) {
      // The right list was pushed before; only tags that point elsewhere (or nowhere) move.
      let moved = false;
      for (const t of p.tags) {
        if (t.current === expected.digest) continue;
        await openImage(t.ref, spec.transport).putManifest(Buffer.from(expected.bytes, 'base64'), expected.mediaType, t.tag);
        moved = true;
      }
      return { name: spec.name, outcome: moved ? 'tags-moved' : 'in-sync', digest: expected.digest, bytesCopied: 0, instances };
    }

    const [firstTag, ...moreTags] = spec.destination.tags;
    const dest = openImage(destinationRef(spec.destination.image, firstTag!), spec.transport);
    const variants = spec.compression?.variants ?? [];
    // force: the first variant becomes the regular instances' own compression (ForceCompressionFormat); the rest
    // are added as clones.
    const force = spec.compression?.force === true && variants.length > 0;
    const result = await push(store, list, dest, {
      selection: 'all',
      ...(spec.format === 'docker' ? { manifestType: 'v2s2' } : { listType: OCI_INDEX }),
      tags: [firstTag!, ...moreTags],
      transport: spec.transport,
      jobs: opts.jobs ?? 4,
      onProgress: opts.onProgress,
      addCompression: force ? variants.slice(1) : variants,
      ...(force && { forceCompressionFormat: true, compressionFormat: variants[0] }),
      ...(spec.compression?.level !== undefined && { compressionLevel: spec.compression.level }),
      cacheStore: store,
      signers: await signersFor(spec),
      ...(spec.signatures?.identity && { identities: spec.destination.tags.map((t) => `${spec.signatures!.identity!}:${t}`) }),
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
  }, { label: spec.name });
}

/** The spec's signers, with passphrases read now (and never printed). */
export async function signersFor(spec: Plan['spec']): Promise<Signer[]> {
  const out: Signer[] = [];
  if (!spec.signatures || (spec.signatures.sigstore.length === 0 && spec.signatures.gpg.length === 0)) return out;
  const { sigstoreSigner, gpgSigner, passphraseFrom } = await import('../core/sign/index.js');
  for (const [i, s] of (spec.signatures?.sigstore ?? []).entries()) {
    if (!s.privateKey.file) throw new PlaitError(ErrorCodes.E_SIGN, `${spec.origin}: spec.signatures.sigstore[${i}].privateKey: the CLI needs a file`);
    out.push(sigstoreSigner({ keyFile: s.privateKey.file, passphrase: await passphraseFrom(s.passphrase, `${spec.origin}: spec.signatures.sigstore[${i}].passphrase`) }));
  }
  for (const [i, g] of (spec.signatures?.gpg ?? []).entries()) {
    if (!g.key.file) throw new PlaitError(ErrorCodes.E_SIGN, `${spec.origin}: spec.signatures.gpg[${i}].key: the CLI needs a file`);
    out.push(gpgSigner({ keyFile: g.key.file, passphrase: await passphraseFrom(g.passphrase, `${spec.origin}: spec.signatures.gpg[${i}].passphrase`), ...(g.lookaside && { lookaside: g.lookaside }) }));
  }
  return out;
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
  const probe = openImage(destinationRef(spec.destination.image, spec.destination.tags[0]!), spec.transport);
  if (!(await probe.resolve(target.digest))) {
    throw new PlaitError(ErrorCodes.E_NOT_FOUND, `${name}: ${target.digest} no longer exists at ${spec.destination.image}`);
  }
  for (const tag of spec.destination.tags) {
    await openImage(destinationRef(spec.destination.image, tag), spec.transport).putManifest(Buffer.from(target.bytes, 'base64'), target.mediaType, tag);
  }
  return target;
}
