import { PlaitError, ErrorCodes } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { isDigest } from '../oci/digest.js';
import { parseImageName } from '../oci/image-name.js';
import type { ImageName } from '../oci/image-name.js';
import { parseServedManifest } from '../transports/documents.js';
import { isListType } from '../oci/mediatype.js';
import { chooseInstance } from '../oci/platform-match.js';
import { formatPlatform, normalisePlatform } from '../oci/platform.js';
import type { Descriptor, Platform } from '../oci/types.js';
import { openImage } from '../transports/index.js';
import type { ImageSource, ManifestBlob, ResolvedManifest, TransportOptions } from '../transports/index.js';
import { INSTANCE_FACT, entryFromDescriptor, instanceFacts, mergedPlatform, pinnedName } from '../core/list/list.js';
import type { InstanceFacts } from '../core/list/list.js';
import type { Store } from '../core/store/index.js';
import { checkSourceBlobs } from '../core/copy/copy.js';
import type { SourceSpec } from './model.js';

// Resolving a source costs one HEAD for a tag and nothing for a digest: what a digest names never changes, so its
// media type, a list's entries and an image's config platform are read once and kept in the store's facts.

export const MANIFEST_FACT = 'manifest';

const NO_PLATFORM = { os: '', architecture: '', osVersion: '', osFeatures: [], variant: '' };

interface ManifestFacts {
  mediaType: string;
  size: number;
  /** A list's entries, in order. */
  manifests?: Descriptor[];
}

/** One instance a source yields. */
export interface Candidate {
  digest: Digest;
  size: number;
  mediaType: string;
  platform: Platform;
  features: string[];
  annotations: Record<string, string> | undefined;
  artifactType: string;
  urls: string[];
  /** Name recorded in instances.json: the source pinned to this digest. */
  sourceName: string;
  /** The source as the spec wrote it. */
  source: string;
  facts: InstanceFacts & { digest: Digest };
}

export interface ResolvedSource {
  spec: SourceSpec;
  digest: Digest;
  mediaType: string;
  candidates: Candidate[];
}

function refOf(name: ImageName): string | undefined {
  return name.transport === 'docker' ? (name.ref.digest ?? name.ref.tag) : (name.image || undefined);
}

async function manifestFacts(src: ImageSource, digest: Digest, store: Store, expect?: { mediaType: string; source: string },
  later?: Array<() => Promise<void>>): Promise<ManifestFacts> {
  const cached = await store.getFact<ManifestFacts>(MANIFEST_FACT, digest);
  const mismatch = (mediaType: string) => expect !== undefined && mediaType !== expect.mediaType;
  // The tag's descriptor (index.json, or a HEAD's Content-Type) and the manifest itself must agree on what it is —
  // before the store learns anything from it.
  const refuse = (mediaType: string) => new PlaitError(ErrorCodes.E_MANIFEST_INVALID,
    `source ${expect!.source}: resolved as ${expect!.mediaType}, but the manifest ${digest} is ${mediaType}`);
  if (cached) {
    if (mismatch(cached.mediaType)) throw refuse(cached.mediaType);
    return cached;
  }
  const m = await src.getManifest(digest);
  if (mismatch(m.mediaType)) throw refuse(m.mediaType);
  const parsed = parseServedManifest(src, m);
  const facts: ManifestFacts = { mediaType: m.mediaType, size: m.bytes.length, ...(parsed.kind === 'index' && { manifests: parsed.index.manifests ?? [] }) };
  const save = () => store.putFact(MANIFEST_FACT, digest, facts);
  // A list's facts are kept only once its instances passed their checks (`later`), so a refused source leaves none.
  if (later) later.push(save);
  else await save();
  return facts;
}

/**
 * Tag resolutions shared by the specs of one run: many specs naming the same source tag cost one HEAD, and they all
 * see the same digest for it.
 */
export type ResolveMemo = Map<string, Promise<ResolvedManifest | undefined>>;

// Whole resolutions shared through the same memo: a source written alike in many specs of one run (same transport
// options object) is resolved once, its cached facts read once rather than once per spec. Kept beside the memo, not
// in it, so that the memo stays the plain tag map its other users (the controller) hand in.
const resolvedBy = new WeakMap<ResolveMemo, WeakMap<TransportOptions, Map<string, Promise<ResolvedSource>>>>();

export function resolveSource(spec: SourceSpec, store: Store, transport: TransportOptions, memo?: ResolveMemo): Promise<ResolvedSource> {
  if (!memo) return resolveSourceOnce(spec, store, transport);
  let byTransport = resolvedBy.get(memo);
  if (!byTransport) resolvedBy.set(memo, (byTransport = new WeakMap<TransportOptions, Map<string, Promise<ResolvedSource>>>()));
  let sources = byTransport.get(transport);
  if (!sources) byTransport.set(transport, (sources = new Map<string, Promise<ResolvedSource>>()));
  const key = JSON.stringify([spec.image, spec.platform ?? null, spec.platforms ?? null, spec.annotations ?? null]);
  let pending = sources.get(key);
  if (!pending) {
    const mine = resolveSourceOnce(spec, store, transport, memo);
    sources.set(key, mine);
    // A failure is not kept: whoever asks later tries again, as it would have without sharing.
    mine.catch(() => { if (sources.get(key) === mine) sources.delete(key); });
    pending = mine;
  }
  // Each caller gets its own candidate objects (what they point at is only read).
  return pending.then((r) => ({ ...r, spec, candidates: r.candidates.map((c) => ({ ...c })) }));
}

async function resolveSourceOnce(spec: SourceSpec, store: Store, transport: TransportOptions, memo?: ResolveMemo): Promise<ResolvedSource> {
  const name = parseImageName(spec.image, { dropTagIfDigested: true });
  const src = openImage(name, transport);
  const ref = refOf(name);
  let top: { digest: Digest; mediaType: string; size: number };
  if (ref !== undefined && isDigest(ref)) {
    const f = await manifestFacts(src, ref, store);
    top = { digest: ref, mediaType: f.mediaType, size: f.size };
  } else {
    let pending = memo?.get(src.name);
    if (!pending) {
      pending = src.resolve();
      memo?.set(src.name, pending);
    }
    const r = await pending;
    if (!r) throw new PlaitError(ErrorCodes.E_MANIFEST_UNKNOWN, `source ${spec.image}: not found`);
    top = r;
  }

  // What the list entry (or the tag's HEAD) says the instance is must be what it is — checked before the store learns
  // anything from it, and again on cached facts. A list inside a list is refused here, before anything is written:
  // the copy takes none (nor does containers/image's).
  const check = (d: Descriptor | undefined, digest: Digest, mediaType: string, size: number) => {
    if (d && isListType(mediaType)) {
      throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `source ${spec.image}: instance ${digest} is itself a list (${mediaType}); lists of lists are not supported`);
    }
    const claimed = d ? d.mediaType : top.mediaType;
    if (claimed !== mediaType) {
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `source ${spec.image}: ${d ? 'the list names' : 'the tag resolved to'} ${digest} as ${claimed}, but the manifest is ${mediaType}`);
    }
    if (d && d.size !== size) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `source ${spec.image}: the list says ${d.size} bytes for ${digest}, the manifest has ${size}`);
    }
  };
  /** Read and check an instance not known yet, writing nothing; undefined when its facts are already kept. */
  const prepare = async (d: Descriptor | undefined): Promise<ManifestBlob | undefined> => {
    const digest = d?.digest ?? top.digest;
    if (await store.getFact(INSTANCE_FACT, digest)) return undefined;
    const known = await src.getManifest(digest);
    check(d, digest, known.mediaType, known.bytes.length);
    // A layout says cheaply whether the instance's blobs can be read: a source that cannot be copied is refused
    // before the store learns anything from it (the push asks again, for blobs damaged since).
    await checkSourceBlobs(src, [known]);
    return known;
  };
  const make = async (d: Descriptor | undefined, features: string[], known: ManifestBlob | undefined): Promise<Candidate> => {
    const digest = d?.digest ?? top.digest;
    const facts = await instanceFacts(src, known, digest, store);
    check(d, digest, facts.mediaType, facts.size);
    const platform = mergedPlatform(d ? entryFromDescriptor(d, features) : NO_PLATFORM, facts);
    return {
      digest, size: d?.size ?? facts.size, mediaType: facts.mediaType, platform, features,
      annotations: d?.annotations ? { ...d.annotations } : undefined,
      artifactType: d?.artifactType ?? facts.artifactType, urls: [...(d?.urls ?? [])],
      sourceName: pinnedName(name, digest), source: spec.image, facts,
    };
  };

  let candidates: Candidate[];
  const later: Array<() => Promise<void>> = [];
  if (isListType(top.mediaType)) {
    const f = await manifestFacts(src, top.digest, store, { mediaType: top.mediaType, source: spec.image }, later);
    const entries = f.manifests ?? [];
    const featuresOf = (d: Descriptor) => [...(d.platform?.features ?? [])];
    const wanted = spec.platforms ?? (spec.platform ? [spec.platform] : undefined);
    if (wanted) {
      candidates = [];
      for (const w of wanted) {
        const n = normalisePlatform(w);
        let chosen: Descriptor;
        try {
          chosen = chooseInstance(top.mediaType, { manifests: entries }, { os: n.os, architecture: n.architecture, ...(n.variant && { variant: n.variant }) });
        } catch {
          throw new PlaitError(ErrorCodes.E_NOT_FOUND, `source ${spec.image}: no instance for ${formatPlatform(w)} (it has ${entries.map((e) => (e.platform ? formatPlatform(e.platform) : '?')).join(', ')})`);
        }
        if (!candidates.some((c) => c.digest === chosen.digest)) candidates.push(await make(chosen, featuresOf(chosen), await prepare(chosen)));
      }
    } else {
      // Every instance is checked before any is recorded, so one bad instance leaves the store as it was.
      const known = await Promise.all(entries.map((d) => prepare(d)));
      candidates = await Promise.all(entries.map((d, i) => make(d, featuresOf(d), known[i])));
    }
  } else {
    const c = await make(undefined, [], await prepare(undefined));
    if (spec.platform) c.platform = normalisePlatform(spec.platform);
    candidates = [c];
  }
  for (const save of later) await save();
  if (spec.annotations) for (const c of candidates) c.annotations = { ...c.annotations, ...spec.annotations };
  return { spec, digest: top.digest, mediaType: top.mediaType, candidates };
}
