import { PlaitError, ErrorCodes, isPlaitError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { algorithmOf, digestOf } from '../../oci/digest.js';
import { goMarshal, goMap } from '../../oci/gojson.js';
import { parseManifestList } from '../../oci/manifest.js';
import { DOCKER_CONFIG, DOCKER_LIST, OCI_CONFIG } from '../../oci/mediatype.js';
import { chooseInstance } from '../../oci/platform-match.js';
import { parseImageName } from '../../oci/image-name.js';
import type { ImageName } from '../../oci/image-name.js';
import { familiarName } from '../../oci/reference.js';
import { resolve as resolvePath } from 'node:path';
import type { Descriptor, Platform } from '../../oci/types.js';
import { openImage } from '../../transports/index.js';
import type { ImageSource, TransportOptions } from '../../transports/index.js';
import { platformChoice } from '../../transports/host.js';
import { parseServedManifest, readServedConfig } from '../../transports/documents.js';
import type { ListRecord, Store } from '../store/index.js';
import { ManifestList } from './manifests.js';

// containers/common libimage/manifests: a ManifestList plus the instances map (instance digest → the image name it
// was added from; the "" key holds the ID of the record the list is stored in), saved as a record with the items
// `manifest` (exact bytes) and `instances.json`. Create, LoadFromImage, SaveToImage, Add, Remove and Reference behave
// as research/containers-semantics.md §1–§3 describe.
//
// Deliberate deviation: an instance's name is stored pinned to its digest (`docker://host/repo@sha256:…`), not as the
// tag it was added from, so that a tag that later moves cannot change — or break — what a push sends (§2.5).

export const MANIFEST_ITEM = 'manifest';
export const INSTANCES_ITEM = 'instances.json';

export interface AddOptions {
  /** Add every instance of a list source (podman --all); otherwise the instance chosen for the platform. */
  all?: boolean;
  os?: string;
  arch?: string;
  variant?: string;
  transport?: TransportOptions;
  /** Where immutable facts (instance media type, size, config platform) are cached by digest. */
  store?: Store;
}

/** What Add learns about one instance; cached by digest because it can never change. */
export interface InstanceFacts {
  mediaType: string;
  size: number;
  os: string;
  architecture: string;
  osVersion: string;
  osFeatures: string[];
  variant: string;
  artifactType: string;
}

export const INSTANCE_FACT = 'instance';
/** An instance manifest's exact bytes, kept so that a push needs no GET for what Add already read. */
export const MANIFEST_BYTES_FACT = 'manifest-bytes';

interface ManifestBytesFact { mediaType: string; bytes: string }

/** The manifest bytes remembered for `digest`, verified against it (a damaged cache is a miss, not an error). */
export async function cachedManifest(store: Store | undefined, digest: Digest): Promise<{ bytes: Buffer; mediaType: string; digest: Digest } | undefined> {
  const f = store ? await store.getFact<ManifestBytesFact>(MANIFEST_BYTES_FACT, digest) : undefined;
  if (!f) return undefined;
  const bytes = Buffer.from(f.bytes, 'base64');
  return digestOf(bytes, algorithmOf(digest)) === digest ? { bytes, mediaType: f.mediaType, digest } : undefined;
}

export interface Entry {
  digest: Digest | undefined;
  size: number;
  os: string;
  architecture: string;
  osVersion: string;
  osFeatures: string[];
  variant: string;
  features: string[];
  artifactType: string;
  annotations: Record<string, string> | undefined;
  urls: string[];
}

export function entryFromDescriptor(d: Descriptor, features: string[]): Entry {
  return {
    digest: d.digest,
    size: d.size,
    os: d.platform?.os ?? '',
    architecture: d.platform?.architecture ?? '',
    osVersion: d.platform?.['os.version'] ?? '',
    osFeatures: [...(d.platform?.['os.features'] ?? [])],
    variant: d.platform?.variant ?? '',
    features,
    artifactType: d.artifactType ?? '',
    annotations: d.annotations ? { ...d.annotations } : undefined,
    urls: [...(d.urls ?? [])],
  };
}

/**
 * containers/common Add's platform rule: what the source list says wins; the image config only fills what is
 * missing (os.version and os.features go with os, variant with architecture). Empty fields are left out.
 */
export function mergedPlatform(e: Pick<Entry, 'os' | 'architecture' | 'osVersion' | 'osFeatures' | 'variant'>, facts: InstanceFacts): Platform {
  const osVersion = e.os ? e.osVersion : facts.osVersion;
  const osFeatures = e.os ? e.osFeatures : facts.osFeatures;
  const variant = e.architecture ? e.variant : facts.variant;
  return {
    architecture: e.architecture || facts.architecture,
    os: e.os || facts.os,
    ...(osVersion && { 'os.version': osVersion }),
    ...(osFeatures.length > 0 && { 'os.features': [...osFeatures] }),
    ...(variant && { variant }),
  };
}

/** The name stored in instances.json: the source's own name, pinned to the instance digest. */
export function pinnedName(src: ImageName, digest: Digest): string {
  if (src.transport === 'docker') return `docker://${familiarName(src.ref)}@${digest}`;
  // containers/image resolves layout paths to absolute ones in the names it records.
  return `oci:${resolvePath(src.dir)}:${digest}`;
}

export class List {
  list: ManifestList;
  /** Insertion-ordered; serialized with sorted keys like Go's map encoding. */
  instances: Map<string, string>;

  private constructor(list: ManifestList, instances: Map<string, string>) {
    this.list = list;
    this.instances = instances;
  }

  /** Create(): an empty list and an empty instances map (no "" key). */
  static create(): List {
    return new List(ManifestList.create(), new Map());
  }

  /** LoadFromImage(): the record's exact bytes and its instances map; the "" key is set to the record's ID. */
  static async loadFromImage(store: Store, nameOrId: string): Promise<{ id: string; list: List; bytes: Buffer }> {
    return List.loadRecord(store, await store.getRecord(nameOrId), nameOrId);
  }

  /** LoadFromImage() of a record already looked up; `nameOrId` names it in errors. */
  static async loadRecord(store: Store, rec: ListRecord, nameOrId = rec.id): Promise<{ id: string; list: List; bytes: Buffer }> {
    const bytes = await store.readItem(rec.id, MANIFEST_ITEM);
    if (!bytes) throw new PlaitError(ErrorCodes.E_STORE, `list ${nameOrId}: the record has no manifest`);
    let list: ManifestList;
    try {
      list = ManifestList.fromBlob(bytes);
    } catch (e) {
      if (isPlaitError(e, ErrorCodes.E_UNSUPPORTED)) throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${nameOrId} is not a manifest list`);
      throw e;
    }
    const inst = await store.readItem(rec.id, INSTANCES_ITEM);
    if (!inst) throw new PlaitError(ErrorCodes.E_STORE, `list ${nameOrId}: the record has no ${INSTANCES_ITEM}`);
    let parsed: Record<string, string>;
    try {
      parsed = JSON.parse(inst.toString('utf8')) as Record<string, string>;
    } catch {
      throw new PlaitError(ErrorCodes.E_STORE, `list ${nameOrId}: ${INSTANCES_ITEM} is not valid JSON`);
    }
    const instances = new Map(Object.entries(parsed));
    instances.set('', rec.id);
    // The stored bytes too: a caller comparing them with a rebuilt list need not read them again.
    return { id: rec.id, list: new List(list, instances), bytes };
  }

  /** Number of instances in stored list bytes (for listings; no full load). */
  static countInstances(bytes: Buffer): number {
    return ManifestList.fromBlob(bytes).instances().length;
  }

  /** The exact bytes SaveToImage would store. */
  serialize(mimeType = ''): Buffer {
    return this.list.serialize(mimeType);
  }

  /**
   * SaveToImage(): create a record (names given), or — when `id` names an existing record — overwrite its items in
   * place and keep its names. Returns the record ID. On create, "" is set only after instances.json is written, so a
   * fresh record's instances.json has no "" key (as in containers/common).
   */
  async saveToImage(store: Store, id: string, names: string[], mimeType = ''): Promise<string> {
    const manifest = this.list.serialize(mimeType);
    const instances = goMarshal(goMap(Object.fromEntries(this.instances)));
    const items = { [MANIFEST_ITEM]: manifest, [INSTANCES_ITEM]: instances };
    if (id !== '') {
      if (await store.resolve(id)) {
        await store.writeItems(id, items);
        return id;
      }
    }
    const newId = await store.createRecord({ ...(id !== '' && { id }), names, items });
    this.instances.set('', newId);
    return newId;
  }

  /** The record ID the list was loaded from or saved to ("" when never saved). */
  get id(): string {
    return this.instances.get('') ?? '';
  }

  /**
   * Add(): one instance (a single image, or the platform's choice from a list) or, with `all`, every instance of a
   * list source. Returns the digest of the first instance recorded.
   */
  async add(ref: string, opts: AddOptions = {}): Promise<Digest> {
    const name = parseImageName(ref, { dropTagIfDigested: true });
    const src = openImage(name, opts.transport ?? {});
    const top = await src.getManifest();
    const parsedTop = parseServedManifest(src, top);
    let entries: Entry[];
    if (parsedTop.kind === 'index') {
      const docker = parsedTop.mediaType === DOCKER_LIST ? parseManifestList(top.bytes, top.mediaType).index.manifests ?? [] : [];
      const ociView = parsedTop.index.manifests ?? [];
      const featuresAt = (i: number) => [...(docker[i]?.platform?.features ?? [])];
      if (opts.all) {
        entries = ociView.map((d, i) => entryFromDescriptor(d, featuresAt(i)));
      } else {
        const { choice, opts: wantOpts } = platformChoice({ os: opts.os, arch: opts.arch, variant: opts.variant });
        let chosen: Descriptor;
        try {
          chosen = chooseInstance(parsedTop.mediaType, parsedTop.index, choice, wantOpts);
        } catch (e) {
          throw new PlaitError(ErrorCodes.E_NOT_FOUND, `selecting image from manifest list ${src.name}: ${(e as Error).message}`, { cause: e });
        }
        const i = ociView.findIndex((d) => d.digest === chosen.digest);
        entries = [entryFromDescriptor(chosen, featuresAt(i))];
      }
    } else {
      entries = [{
        digest: undefined, size: -1, os: '', architecture: '', osVersion: '', osFeatures: [], variant: '', features: [],
        artifactType: parsedTop.manifest.artifactType ?? '', annotations: undefined, urls: [],
      }];
    }

    let first: Digest | undefined;
    for (const e of entries) {
      const facts = await instanceFacts(src, e.digest === undefined ? top : undefined, e.digest, opts.store);
      const digest = this.addResolved(e, facts, pinnedName(name, e.digest ?? facts.digest));
      first ??= digest;
    }
    return first!;
  }

  /**
   * The recording half of Add, for an entry whose facts are already known (no network): AddInstance with the
   * platform the source list gave (the config only fills what is missing), artifact type, URLs, and the instances
   * map entry — first reference wins.
   */
  addResolved(e: Entry, facts: InstanceFacts & { digest: Digest }, sourceName: string): Digest {
    const digest = e.digest ?? facts.digest;
    const size = e.digest === undefined ? facts.size : e.size;
    const p = mergedPlatform(e, facts);
    this.list.addInstance({
      digest, size, mediaType: facts.mediaType, os: p.os, architecture: p.architecture, osVersion: p['os.version'],
      osFeatures: p['os.features'], variant: p.variant, features: e.features,
      annotations: e.annotations ? Object.entries(e.annotations).map(([k, v]) => `${k}=${v}`) : undefined,
    });
    const artifactType = e.artifactType || facts.artifactType;
    if (artifactType) this.list.setArtifactType(digest, artifactType);
    if (e.urls.length > 0) this.list.setURLs(digest, e.urls);
    if (!this.instances.has(digest)) this.instances.set(digest, sourceName);
    return digest;
  }

  /** Remove(): from the list, and then — only then — from the instances map. */
  remove(digest: Digest): void {
    this.list.remove(digest);
    this.instances.delete(digest);
  }

  /** Reference(): the source name of every selected instance ("" excluded); never-saved lists are refused. */
  reference(selection: 'all' | 'system' | 'specific', instances: Digest[] = []): Map<Digest, string> {
    if (!this.instances.get('')) {
      throw new PlaitError(ErrorCodes.E_STORE, 'unable to determine which image holds the manifest list');
    }
    const out = new Map<Digest, string>();
    for (const [k, v] of this.instances) {
      if (k === '') continue;
      if (selection === 'specific' && !instances.includes(k as Digest)) continue;
      out.set(k as Digest, v);
    }
    return out;
  }

  /** The display name of an instance's source. */
  sourceOf(digest: Digest): string | undefined {
    return this.instances.get(digest);
  }
}

/** Read (or recall) an instance's media type, size and — when its platform needs it — config platform. */
export async function instanceFacts(src: ImageSource, known: { bytes: Buffer; mediaType: string; digest: Digest } | undefined,
  digest: Digest | undefined, store: Store | undefined): Promise<InstanceFacts & { digest: Digest }> {
  const key = digest ?? known?.digest;
  if (key && store) {
    const cached = await store.getFact<InstanceFacts>(INSTANCE_FACT, key);
    if (cached) return { ...cached, digest: key };
  }
  const m = known ?? (await src.getManifest(digest));
  const parsed = parseServedManifest(src, m);
  const facts: InstanceFacts = {
    mediaType: m.mediaType, size: m.bytes.length, os: '', architecture: '', osVersion: '', osFeatures: [], variant: '',
    artifactType: parsed.kind === 'image' ? parsed.manifest.artifactType ?? '' : '',
  };
  // HEAD's rule: read the config only for images (no artifactType) with an image config type.
  if (parsed.kind === 'image' && !facts.artifactType && (parsed.manifest.config.mediaType === OCI_CONFIG || parsed.manifest.config.mediaType === DOCKER_CONFIG)) {
    const { config: cfg } = await readServedConfig(src, parsed.manifest.config.digest, parsed.manifest.config.size);
    facts.os = cfg.os ?? '';
    facts.osVersion = cfg['os.version'] ?? '';
    facts.osFeatures = [...(cfg['os.features'] ?? [])];
    facts.architecture = cfg.architecture ?? '';
    facts.variant = cfg.variant ?? '';
  }
  if (store) {
    await store.putFact(INSTANCE_FACT, m.digest, facts);
    await store.putFact(MANIFEST_BYTES_FACT, m.digest, { mediaType: m.mediaType, bytes: m.bytes.toString('base64') } satisfies ManifestBytesFact);
  }
  return { ...facts, digest: m.digest };
}
