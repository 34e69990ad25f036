import { Readable } from 'node:stream';
import { PlaitError, ErrorCodes, asPlaitError } from '../../errors.js';
import { digestOf } from '../../oci/digest.js';
import { goIndent } from '../../oci/gojson.js';
import type { Digest } from '../../oci/digest.js';
import { parseManifest, parseManifestList } from '../../oci/manifest.js';
import {
  DOCKER_LIST, DOCKER_MANIFEST, DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, OCI_INDEX, OCI_MANIFEST,
} from '../../oci/mediatype.js';
import { chooseInstance } from '../../oci/platform-match.js';
import type { ImageIndex } from '../../oci/types.js';
import { claimRegistries, openImage } from '../../transports/index.js';
import type { ImageDestination, ImageSource, ManifestBlob, TransportOptions } from '../../transports/index.js';
import { hostPlatform, platformChoice } from '../../transports/host.js';
import { readSmall } from '../../transports/registry/image.js';
import { Copier, checkSourceBlobs, sharedCopyState } from '../copy/copy.js';
import type { BlobTee, CopyPhase, CopyProgress, SharedCopyState } from '../copy/copy.js';
import type { VariantTee } from '../compression/tee.js';
import { convertList, dockerToOci, ociToDocker } from '../copy/convert.js';
import type { Store } from '../store/index.js';
import type { Signer } from '../sign/index.js';
import { ANNOTATION_ZSTD_INSTANCE } from '../../oci/mediatype.js';
import { carryReferrers } from '../referrers/carry.js';
import type { CarriedReferrer } from '../referrers/carry.js';
import type { List } from './list.js';
import { MANIFEST_ITEM, cachedManifest } from './list.js';

// Push (containers/common libimage/manifests Push → containers/image copy): every selected instance is copied from
// the source it was added from — blobs, then its manifest by digest, converted when a format is forced — and then
// the list, with the entries of converted instances updated, under each destination tag. The list is pushed as the
// exact stored bytes whenever nothing about it changed, so its digest is what `inspect --raw` shows (§4.3–§4.5).

export type Selection = 'all' | 'system' | 'specific';

export interface PushOptions {
  /** all (podman --all, the default), system (one instance for the platform, no list) or specific. */
  selection?: Selection;
  /** With selection "specific": the instances to copy (the list written still names every instance). */
  instances?: Digest[];
  /** A MIME type forcing the format (OCI manifest/index or Docker v2s2/list); empty keeps each format. */
  manifestType?: string;
  /** Force only the list's type (OCI index or Docker list), leaving instances as they are. */
  listType?: string;
  /** Lay the list's JSON out as Go's json.MarshalIndent does with this many spaces (manifest-tool: 2); default compact. */
  listIndent?: number;
  /** Tags to put the list under; default the destination's own tag; none → by digest only. */
  tags?: string[];
  /** Blob transfers in flight (default 4). */
  jobs?: number;
  transport?: TransportOptions;
  /** Platform for selection "system" (default: this host). */
  platform?: { os?: string; arch?: string; variant?: string };
  onProgress?: (p: CopyProgress) => void;
  /** AddCompression: algorithms every platform must also have (gzip, zstd); clones are added to the list. */
  addCompression?: string[];
  /** ForceCompressionFormat: recompress regular instances to `compressionFormat` too. */
  forceCompressionFormat?: boolean;
  compressionFormat?: string;
  compressionLevel?: number;
  /** Where variant digests are remembered so that later pushes reproduce them (§5.8). */
  cacheStore?: Store;
  /** Signers for every manifest written: each instance, each clone, and the list. */
  signers?: Signer[];
  /** Identities (host/repo:tag) to sign under; default one per destination tag. */
  identities?: string[];
  /** RemoveSignatures: with `referrers`, cosign signatures (`.sig`) of the sources are left behind. */
  removeSignatures?: boolean;
  /**
   * Carry each instance's referrers from its source (cosign `.sig`/`.att`/`.sbom` attachments, OCI artifacts with a
   * `subject`), optionally only those of these artifact types. Instances whose digest changes (format conversion,
   * forced compression) have none: what referred to the source digest does not describe the new one.
   */
  referrers?: { artifactTypes?: string[] };
}

export interface PushedInstance {
  /** The digest in the stored list. */
  source: Digest;
  /** The digest written (differs when the format was converted). */
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface PushResult {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
  instances: PushedInstance[];
  bytesCopied: number;
  /** What `referrers` carried. */
  referrers: CarriedReferrer[];
}

/** Map a --format name or MIME type to the (instance, list) MIME types it forces, or undefined to keep formats. */
export function forcedTypes(manifestType: string | undefined): { instance: string; list: string } | undefined {
  switch (manifestType ?? '') {
    case '':
      return undefined;
    case 'oci':
    case OCI_MANIFEST:
    case OCI_INDEX:
      return { instance: OCI_MANIFEST, list: OCI_INDEX };
    case 'v2s2':
    case 'docker':
    case DOCKER_MANIFEST:
    case DOCKER_LIST:
      return { instance: DOCKER_MANIFEST, list: DOCKER_LIST };
    case 'v2s1':
    case DOCKER_SCHEMA1:
    case DOCKER_SCHEMA1_SIGNED:
      throw new PlaitError(ErrorCodes.E_UNSUPPORTED, 'Docker schema 1 (v2s1) cannot be pushed: registries such as distribution 2.8 reject it; use oci or v2s2');
    default:
      throw new PlaitError(ErrorCodes.E_INVALID, `unknown manifest format ${JSON.stringify(manifestType)} (use oci or v2s2)`);
  }
}

/** Copy one instance (converting it when `instanceType` asks), returning what was written. */
async function pushInstance(src: ImageSource, dest: ImageDestination, digest: Digest, instanceType: string | undefined,
  shared: SharedCopyState, opts: PushOptions, known?: ManifestBlob, tee?: BlobTee): Promise<{ written: ManifestBlob; copied: number; zstd?: boolean; original: ManifestBlob }> {
  const m = known ?? (await instanceManifest(src, digest, opts));
  const copier = new Copier(src, dest, { shared, onProgress: opts.onProgress, ...(tee && { tee }) });
  const force = opts.forceCompressionFormat ? await forcedAlgorithm(opts) : undefined;
  if (force) {
    const { compressionOfMediaType, makeVariant } = await compression();
    const parsed = parseManifest(m.bytes, m.mediaType);
    const all = parsed.kind === 'image' && parsed.manifest.layers.every((l) => compressionOfMediaType(l.mediaType) === force);
    if (!all) {
      // ForceCompressionFormat: the regular instance itself is rewritten in the algorithm (its digest changes).
      const v = await makeVariant({
        src, dest, instanceManifest: m, algorithm: force, ...(opts.compressionLevel !== undefined && { level: opts.compressionLevel }),
        ...(opts.cacheStore && { store: opts.cacheStore }), ...(opts.onProgress && { onProgress: opts.onProgress }),
      });
      return { written: { bytes: v.bytes, mediaType: v.mediaType, digest: v.digest }, copied: 0, zstd: force === 'zstd', original: m };
    }
  }
  let written: ManifestBlob = m;
  if (instanceType && instanceType !== m.mediaType) {
    const parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.kind !== 'image') throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${src.name}: instance ${digest} is itself a list`);
    if (instanceType === DOCKER_MANIFEST) {
      const c = ociToDocker(parsed.manifest, `${src.name}@${digest}`);
      written = { bytes: c.bytes, mediaType: c.mediaType, digest: digestOf(c.bytes) };
    } else {
      const cfg = await readSmall(await src.getBlob({ digest: parsed.manifest.config.digest, size: parsed.manifest.config.size }));
      const c = dockerToOci(parsed.manifest, cfg, `${src.name}@${digest}`);
      // The re-encoded config exists nowhere yet: upload it so the copier finds it present.
      if (c.config && !(await dest.hasBlob({ digest: c.config.descriptor.digest, size: c.config.descriptor.size }))) {
        await dest.putBlob(Readable.from([c.config.bytes]), { digest: c.config.descriptor.digest, size: c.config.descriptor.size });
      }
      written = { bytes: c.bytes, mediaType: c.mediaType, digest: digestOf(c.bytes) };
    }
  }
  await copier.copyImageManifest(written);
  // Forced and already in that compression: the instance is pushed as it is, and still marked for what it is.
  return { written, copied: copier.bytesCopied, ...(force && { zstd: force === 'zstd' }), original: m };
}

async function instanceManifest(src: ImageSource, digest: Digest, opts: PushOptions): Promise<ManifestBlob> {
  return (await cachedManifest(opts.cacheStore, digest)) ?? (await src.getManifest(digest));
}

/**
 * The variants to make from the copy's own read of each layer (see compression/tee.ts): the layers of the instances
 * the list's variants will be cloned from, as makeListVariants plans them — unless a variant of the layer is
 * remembered already (it is then mounted or found, not made). Undefined when the push adds no variants, or when
 * ForceCompressionFormat rewrites the instances (their layers are then not copied as they are). The manifests read
 * for this are returned, so the copy does not read them again.
 */
async function variantTee(index: ImageIndex, storedType: string, dest: ImageDestination, sourceFor: (d: Digest) => ImageSource,
  opts: PushOptions): Promise<{ tee?: VariantTee; manifests: Map<string, ManifestBlob> }> {
  const manifests = new Map<string, ManifestBlob>();
  const algorithms = opts.addCompression ?? [];
  if (algorithms.length === 0 || opts.forceCompressionFormat) return { manifests };
  const c = await compression();
  const tee = new c.VariantTee(dest);
  const cache = new c.VariantCache(opts.cacheStore);
  for (const p of c.planVariants(index, algorithms, { mediaType: storedType })) {
    const m = manifests.get(p.source.digest) ?? (await instanceManifest(sourceFor(p.source.digest), p.source.digest, opts));
    manifests.set(p.source.digest, m);
    // An instance that is no image gets no clone (the plan then moves to the platform's next one, read back later).
    if (!c.isImageInstance(m)) continue;
    const parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.kind !== 'image') continue;
    const key = c.variantKey(p.algorithm, opts.compressionLevel);
    for (const l of parsed.manifest.layers) {
      if ((await cache.getBlob(l.digest, key)) === undefined) tee.want(l, p.algorithm, opts.compressionLevel);
    }
  }
  return { tee, manifests };
}

// zstd bindings and recompression load only for pushes that use them.
const compression = () => import('../compression/index.js');

async function forcedAlgorithm(opts: PushOptions): Promise<'gzip' | 'zstd'> {
  if (!opts.compressionFormat) {
    throw new PlaitError(ErrorCodes.E_INVALID, 'cannot use ForceCompressionFormat with undefined default compression format');
  }
  return (await compression()).variantAlgorithm(opts.compressionFormat);
}

type Pushed = PushedInstance & { zstd?: boolean; original: ManifestBlob; src: ImageSource };

/**
 * The list's entries with converted instances updated (digest, size, media type), as containers/image edits them.
 * An instance forced to zstd is marked zstd, as containers/image does; unlike containers/image (which never removes
 * the mark, a known TODO there), an instance forced to gzip loses it, so the mark always tells what the layers are.
 */
function applyEdits(index: ImageIndex, pushed: ReadonlyMap<string, Pick<Pushed, 'digest' | 'size' | 'mediaType' | 'zstd'>>): ImageIndex {
  return {
    ...index,
    manifests: index.manifests && index.manifests.map((d) => {
      const p = pushed.get(d.digest);
      if (!p || (p.digest === d.digest && p.zstd === undefined)) return d;
      let annotations = d.annotations;
      if (p.zstd === true) annotations = { ...annotations, [ANNOTATION_ZSTD_INSTANCE]: 'true' };
      if (p.zstd === false && annotations?.[ANNOTATION_ZSTD_INSTANCE] !== undefined) {
        const { [ANNOTATION_ZSTD_INSTANCE]: _dropped, ...rest } = annotations;
        annotations = Object.keys(rest).length > 0 ? rest : undefined;
      }
      const { annotations: _old, ...entry } = d;
      return { ...entry, digest: p.digest, size: p.size, mediaType: p.mediaType, ...(annotations && { annotations }) };
    }),
  };
}

/**
 * The bytes of the list `stored` (an `index` of `storedType`) as a push writes it as `listType` with `edits` applied,
 * before any variant is added. Unchanged in substance → the stored bytes themselves, so the digest never depends on
 * our serializer. The adoption of a destination's list (reconcile) predicts a push with this too.
 */
export function listAsWritten(index: ImageIndex, stored: Buffer, storedType: string, listType: string,
  edits: ReadonlyMap<string, Pick<Pushed, 'digest' | 'size' | 'mediaType' | 'zstd'>> = new Map()): Buffer {
  const runtime = { os: hostPlatform().choice.os, architecture: hostPlatform().choice.architecture };
  const edited = convertList(applyEdits(index, edits), storedType, listType, runtime);
  const original = convertList(index, storedType, storedType, runtime);
  return listType === storedType && edited.equals(original) ? stored : edited;
}

/** A list's bytes as a push lays them out: `listIndent` spaces per level when above 0, else as they are (compact). */
export function indentList(bytes: Buffer, listIndent: number | undefined): Buffer {
  return listIndent !== undefined && listIndent > 0 ? goIndent(bytes, ' '.repeat(listIndent)) : bytes;
}

/**
 * The identity a signature names: the destination repository with one of its tags. An OCI layout has no registry
 * name to take it from (containers/image: "Cannot determine canonical Docker reference for destination"), so signing
 * into one needs the identity given.
 */
function identitiesFor(dest: ImageDestination, tags: string[]): string[] {
  if (dest.location.transport !== 'docker') {
    throw new PlaitError(ErrorCodes.E_SIGN, `${dest.name}: cannot sign without an identity: an OCI layout has no registry name; give the reference the list will be pulled as (--sign-identity)`);
  }
  const name = dest.name.replace(/^docker:\/\//, '');
  const repo = dest.tag !== undefined ? name.slice(0, name.length - dest.tag.length - 1) : name.replace(/@.*$/, '');
  return (tags.length > 0 ? tags : ['latest']).map((t) => `${repo}:${t}`);
}

/** Carry the referrers of every instance written under its source digest. */
async function carryAll(opts: PushOptions, dest: ImageDestination, pairs: Array<{ src: ImageSource; source: Digest; written: Digest }>, shared: SharedCopyState): Promise<CarriedReferrer[]> {
  if (!opts.referrers) return [];
  const out: CarriedReferrer[] = [];
  for (const p of pairs) {
    if (p.source !== p.written) continue;
    out.push(...await carryReferrers(p.src, dest as ImageDestination & ImageSource, p.source, {
      ...(opts.referrers.artifactTypes && { artifactTypes: opts.referrers.artifactTypes }),
      skipSignatures: opts.removeSignatures === true, shared,
    }));
  }
  return out;
}

async function signAll(signers: Signer[], dest: ImageDestination, digests: Digest[], identities: string[]): Promise<void> {
  for (const signer of signers) {
    for (const d of digests) {
      for (const id of identities) await signer.sign(dest as ImageDestination & ImageSource, d, id);
    }
  }
}

export async function push(store: Store, list: List, dest: ImageDestination, opts: PushOptions = {}): Promise<PushResult> {
  const selection = opts.selection ?? 'all';
  const refs = list.reference(selection, opts.instances);
  const stored = await store.readItem(list.id, MANIFEST_ITEM);
  if (!stored) throw new PlaitError(ErrorCodes.E_STORE, `list ${list.id}: the record has no manifest`);
  const { mediaType: storedType, index } = parseManifestList(stored);
  const forced = forcedTypes(opts.manifestType);
  const transport = opts.transport ?? {};
  const shared = sharedCopyState(opts.jobs ?? 4);
  const tags = opts.tags ?? (dest.tag !== undefined ? [dest.tag] : []);
  const addCompression = opts.addCompression ?? [];
  if (addCompression.length > 0) {
    // AddCompression only makes sense (and is only implemented upstream) for a whole list written as an OCI index.
    if (selection === 'system') throw new PlaitError(ErrorCodes.E_UNSUPPORTED, 'adding compression variants is not implemented when not creating a multi-architecture image');
    if (selection === 'specific') throw new PlaitError(ErrorCodes.E_UNSUPPORTED, 'adding compression variants is not implemented for a push of specific instances');
    if ((forced?.list ?? opts.listType ?? storedType) === DOCKER_LIST) {
      throw new PlaitError(ErrorCodes.E_UNSUPPORTED, 'compression variants need an OCI index: a Docker manifest list cannot mark them (use --format oci)');
    }
    const { variantAlgorithm } = await compression();
    for (const a of addCompression) variantAlgorithm(a);
  }
  if (opts.forceCompressionFormat) await forcedAlgorithm(opts);
  // Flag credentials go to one registry each: refuse now if the instances' registries and DEST would share one.
  claimRegistries(transport, { source: [...refs.values()], destination: [dest.name] });
  const signers = opts.signers ?? [];
  const identities = opts.identities ?? (signers.length > 0 ? identitiesFor(dest, tags) : []);
  // Keys are decrypted and signature storage checked before anything is pushed.
  for (const s of signers) await s.prepare(identities);
  const sourceFor = (d: Digest): ImageSource => {
    const name = refs.get(d);
    if (!name) throw new PlaitError(ErrorCodes.E_NOT_FOUND, `instance ${d} of list ${list.id} has no recorded source`);
    return openImage(name, transport);
  };

  if (selection === 'system') {
    const { choice, opts: wantOpts } = opts.platform ? platformChoice(opts.platform) : hostPlatform();
    const chosen = chooseInstance(storedType, index, choice, wantOpts);
    const src = sourceFor(chosen.digest);
    const { written, copied } = await pushInstance(src, dest, chosen.digest, forced?.instance, shared, opts);
    for (const t of tags) await dest.putManifest(written.bytes, written.mediaType, t);
    const carried = await carryAll(opts, dest, [{ src, source: chosen.digest, written: written.digest }], shared);
    await signAll(signers, dest, [written.digest], identities);
    return {
      digest: written.digest, mediaType: written.mediaType, bytes: written.bytes, bytesCopied: copied, referrers: carried,
      instances: [{ source: chosen.digest, digest: written.digest, mediaType: written.mediaType, size: written.bytes.length }],
    };
  }

  const phase = (p: CopyPhase) => opts.onProgress?.({ kind: 'phase', phase: p, bytes: 0 });
  const entries = (index.manifests ?? []).filter((d) => selection === 'all' || refs.has(d.digest));
  // Sources that can say cheaply that a blob is unreadable (layouts) are asked first: refused before anything is written.
  for (const d of entries) {
    const src = sourceFor(d.digest);
    if (src.checkBlob) await checkSourceBlobs(src, [(await cachedManifest(opts.cacheStore, d.digest)) ?? (await src.getManifest(d.digest))]);
  }
  phase(opts.forceCompressionFormat ? 'recompress' : 'copy');
  const pushed = new Map<string, Pushed>();
  let bytesCopied = 0;
  let failure: unknown;
  // Planned before any copy starts, so that whichever instance copies a shared layer first feeds its variant too.
  const { tee, manifests: planned } = await variantTee(index, storedType, dest, sourceFor, opts);
  await Promise.all(entries.map(async (d) => {
    try {
      const src = sourceFor(d.digest);
      const { written, copied, zstd, original } = await pushInstance(src, dest, d.digest, forced?.instance, shared, opts, planned.get(d.digest), tee);
      bytesCopied += copied;
      pushed.set(d.digest, { source: d.digest, digest: written.digest, mediaType: written.mediaType, size: written.bytes.length, original, src, ...(zstd !== undefined && { zstd }) });
    } catch (e) {
      failure ??= e;
    }
  }));
  if (failure !== undefined) throw asPlaitError(failure);

  const listType = forced?.list ?? opts.listType ?? storedType;
  let bytes = listAsWritten(index, stored, storedType, listType, pushed);
  const written: Digest[] = [...pushed.values()].map((p) => p.digest);
  if (addCompression.length > 0) {
    // Which platforms lack an algorithm is judged on the list as written, after ForceCompressionFormat rewrote its
    // instances: `--compression-format zstd --add-compression gzip` ends with both, as podman documents (its copy
    // engine judges on the list before the rewrite and so adds no gzip instance to a gzip source). An instance
    // pushed as it is lets the clone be made from the destination (one registry, no cross-host reads); one that was
    // rewritten is cloned from the instance as it was, like containers/image — and when that one already is in the
    // wanted compression it is the variant itself, pushed unchanged.
    phase('recompress');
    const byWritten = new Map<string, Pushed>([...pushed.values()].filter((p) => p.digest !== p.source).map((p) => [p.digest, p]));
    const { makeListVariants } = await compression();
    const variants = await makeListVariants({
      src: dest as ImageDestination & ImageSource, dest, list: { bytes, mediaType: listType, digest: digestOf(bytes) }, algorithms: addCompression,
      originOf: (d) => {
        const p = byWritten.get(d.digest);
        return p && { src: p.src, manifest: p.original };
      },
      ...(opts.compressionLevel !== undefined && { level: opts.compressionLevel }),
      ...(opts.cacheStore && { store: opts.cacheStore }), jobs: opts.jobs ?? 4,
      ...(opts.onProgress && { onProgress: opts.onProgress }),
      ...(tee && { tee }),
    });
    bytes = variants.bytes;
    written.push(...variants.clones.map((c) => c.manifest.digest));
  }
  bytes = indentList(bytes, opts.listIndent);
  const digest = digestOf(bytes);
  phase('push list');
  if (tags.length === 0) await dest.putManifest(bytes, listType);
  for (const t of tags) await dest.putManifest(bytes, listType, t);
  // Carried before signing, so that plait's signature joins a carried `.sig` attachment instead of being replaced.
  const carried = await carryAll(opts, dest, entries.map((d) => ({ src: sourceFor(d.digest), source: d.digest, written: pushed.get(d.digest)!.digest })), shared);
  if (signers.length > 0) phase('sign');
  await signAll(signers, dest, [...written, digest], identities);
  return {
    digest, mediaType: listType, bytes, bytesCopied, referrers: carried,
    instances: entries.map((d) => pushed.get(d.digest)!),
  };
}
