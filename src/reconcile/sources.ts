import { PlaitError, ErrorCodes } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { isDigest } from '../oci/digest.js';
import { parseImageName } from '../oci/image-name.js';
import type { ImageName } from '../oci/image-name.js';
import { parseManifest } from '../oci/manifest.js';
import { isListType } from '../oci/mediatype.js';
import { chooseInstance } from '../oci/platform-match.js';
import { formatPlatform, normalisePlatform } from '../oci/platform.js';
import type { Descriptor, Platform } from '../oci/types.js';
import { openImage } from '../transports/index.js';
import type { ImageSource, ResolvedManifest, TransportOptions } from '../transports/index.js';
import { entryFromDescriptor, instanceFacts, mergedPlatform, pinnedName } from '../core/list/list.js';
import type { InstanceFacts } from '../core/list/list.js';
import type { Store } from '../core/store/index.js';
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

async function manifestFacts(src: ImageSource, digest: Digest, store: Store): Promise<ManifestFacts> {
  const cached = await store.getFact<ManifestFacts>(MANIFEST_FACT, digest);
  if (cached) return cached;
  const m = await src.getManifest(digest);
  const parsed = parseManifest(m.bytes, m.mediaType);
  const facts: ManifestFacts = { mediaType: m.mediaType, size: m.bytes.length, ...(parsed.kind === 'index' && { manifests: parsed.index.manifests ?? [] }) };
  await store.putFact(MANIFEST_FACT, digest, facts);
  return facts;
}

/**
 * Tag resolutions shared by the specs of one run: many specs naming the same source tag cost one HEAD, and they all
 * see the same digest for it.
 */
export type ResolveMemo = Map<string, Promise<ResolvedManifest | undefined>>;

export async function resolveSource(spec: SourceSpec, store: Store, transport: TransportOptions, memo?: ResolveMemo): Promise<ResolvedSource> {
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

  const make = async (d: Descriptor | undefined, features: string[]): Promise<Candidate> => {
    const digest = d?.digest ?? top.digest;
    const facts = await instanceFacts(src, undefined, digest, store);
    const platform = mergedPlatform(d ? entryFromDescriptor(d, features) : NO_PLATFORM, facts);
    return {
      digest, size: d?.size ?? facts.size, mediaType: facts.mediaType, platform, features,
      annotations: d?.annotations ? { ...d.annotations } : undefined,
      artifactType: d?.artifactType ?? facts.artifactType, urls: [...(d?.urls ?? [])],
      sourceName: pinnedName(name, digest), source: spec.image, facts,
    };
  };

  let candidates: Candidate[];
  if (isListType(top.mediaType)) {
    const f = await manifestFacts(src, top.digest, store);
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
        if (!candidates.some((c) => c.digest === chosen.digest)) candidates.push(await make(chosen, featuresOf(chosen)));
      }
    } else {
      candidates = await Promise.all(entries.map((d) => make(d, featuresOf(d))));
    }
  } else {
    const c = await make(undefined, []);
    if (spec.platform) c.platform = normalisePlatform(spec.platform);
    candidates = [c];
  }
  if (spec.annotations) for (const c of candidates) c.annotations = { ...c.annotations, ...spec.annotations };
  return { spec, digest: top.digest, mediaType: top.mediaType, candidates };
}
