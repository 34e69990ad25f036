import { PlaitError, ErrorCodes } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { parseManifestList } from '../../oci/manifest.js';
import { DOCKER_LIST, OCI_INDEX } from '../../oci/mediatype.js';
import { serializeDockerList, serializeOCIIndex } from '../../oci/gojson.js';
import type { Descriptor, ImageIndex, Platform } from '../../oci/types.js';

// The in-memory list of containers/common pkg/manifests: two parallel views, a Docker schema2 manifest list and an
// OCI image index, that every mutator keeps in step, because the same list may be written in either format.
// Getters read the OCI view (features: the Docker view); Serialize picks the format by the rules of preferOCI unless
// told, and writes Go's bytes (oci/gojson.ts). Semantics follow containers/common HEAD
// (research/containers-semantics.md §1.3–§1.5).

export const ErrDigestNotFound = 'no image instance matching the specified digest was found in the list or index';

function notFound(d: string): PlaitError {
  return new PlaitError(ErrorCodes.E_NOT_FOUND, `${ErrDigestNotFound}: ${d}`, { details: { digest: d } });
}

const emptyToUndef = <T>(a: T[] | undefined): T[] | undefined => (a && a.length > 0 ? [...a] : undefined);

function ociPlatformEmpty(p: Platform | undefined): boolean {
  return !p || (!p.architecture && !p.os && !p['os.version'] && !p.variant && !(p['os.features']?.length));
}

export interface InstanceFields {
  digest: Digest;
  size: number;
  mediaType: string;
  os?: string;
  architecture?: string;
  osVersion?: string;
  osFeatures?: string[];
  variant?: string;
  features?: string[];
  /** `key=value` strings, split at the first `=` (a string without `=` is a key with an empty value). */
  annotations?: string[];
}

export class ManifestList {
  /** Docker view: entries always carry a platform object. `null` is Go's nil slice. */
  docker: Descriptor[] | null;
  oci: ImageIndex;

  private constructor(docker: Descriptor[] | null, oci: ImageIndex) {
    this.docker = docker;
    this.oci = oci;
  }

  /** Create(): an empty list whose slices are nil, so it serializes `"manifests":null`. */
  static create(): ManifestList {
    return new ManifestList(null, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: null });
  }

  /** FromBlob(): parse stored or fetched list bytes; the other view is synthesized. */
  static fromBlob(bytes: Uint8Array | string): ManifestList {
    const { mediaType, index } = parseManifestList(bytes);
    if (mediaType === DOCKER_LIST) {
      const docker = index.manifests?.map((d) => ({ ...d, platform: { ...(d.platform ?? { architecture: '', os: '' }) } })) ?? null;
      // Docker → OCI: platform object always present, features dropped, no URLs or annotations.
      const oci: ImageIndex = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: docker && docker.map((d) => ({
          mediaType: d.mediaType,
          digest: d.digest,
          size: d.size,
          platform: stripFeatures(d.platform),
        })),
      };
      return new ManifestList(docker, oci);
    }
    // parseManifestList built `index` for this call alone: nothing else holds its descriptors, so they are not copied.
    const oci: ImageIndex = { ...index, mediaType: OCI_INDEX, manifests: index.manifests ?? null };
    const docker = oci.manifests && oci.manifests.map((d): Descriptor => ({
      mediaType: d.mediaType,
      size: d.size,
      digest: d.digest,
      ...(d.urls && { urls: [...d.urls] }),
      platform: {
        architecture: d.platform?.architecture ?? '',
        os: d.platform?.os ?? '',
        ...(d.platform?.['os.version'] && { 'os.version': d.platform['os.version'] }),
        ...(d.platform?.['os.features']?.length && { 'os.features': [...d.platform['os.features']] }),
        ...(d.platform?.variant && { variant: d.platform.variant }),
      },
    }));
    return new ManifestList(docker, oci);
  }

  clone(): ManifestList {
    return new ManifestList(structuredClone(this.docker), structuredClone(this.oci));
  }

  /** Instances(): digests in the OCI view's order. */
  instances(): Digest[] {
    return (this.oci.manifests ?? []).map((d) => d.digest);
  }

  /** AddInstance(): replaces any entry with that digest, appending the new one at the end of both views. */
  addInstance(f: InstanceFields): void {
    this.removeQuiet(f.digest);
    const platform: Platform = {
      architecture: f.architecture ?? '',
      os: f.os ?? '',
      ...(f.osVersion && { 'os.version': f.osVersion }),
      ...(f.osFeatures?.length && { 'os.features': [...f.osFeatures] }),
      ...(f.variant && { variant: f.variant }),
    };
    const features = emptyToUndef(f.features);
    (this.docker ??= []).push({
      mediaType: f.mediaType, size: f.size, digest: f.digest,
      platform: { ...platform, ...(features && { features }) },
    });
    const annotations = parseAnnotations(f.annotations);
    (this.oci.manifests ??= []).push({
      mediaType: f.mediaType, digest: f.digest, size: f.size,
      ...(annotations && { annotations }),
      ...(!ociPlatformEmpty(platform) && { platform: { ...platform } }),
    });
  }

  private removeQuiet(d: string): boolean {
    let found = false;
    if (this.docker) {
      const before = this.docker.length;
      this.docker = this.docker.filter((e) => e.digest !== d);
      found ||= this.docker.length !== before;
    }
    if (this.oci.manifests) {
      const before = this.oci.manifests.length;
      this.oci.manifests = this.oci.manifests.filter((e) => e.digest !== d);
      found ||= this.oci.manifests.length !== before;
    }
    return found;
  }

  /** Remove(): an error only when the digest is in neither view. */
  remove(d: Digest): void {
    if (!this.removeQuiet(d)) {
      throw new PlaitError(ErrorCodes.E_NOT_FOUND, `no instance matching digest ${d} found in manifest list`, { details: { digest: d } });
    }
  }

  private dockerEntry(d: string): Descriptor {
    const e = this.docker?.find((x) => x.digest === d);
    if (!e) throw notFound(d);
    return e;
  }

  private ociEntry(d: string): Descriptor {
    const e = this.oci.manifests?.find((x) => x.digest === d);
    if (!e) throw notFound(d);
    return e;
  }

  // ---- getters (OCI view; Features from the Docker view) ----
  os(d: Digest): string { return this.ociEntry(d).platform?.os ?? ''; }
  architecture(d: Digest): string { return this.ociEntry(d).platform?.architecture ?? ''; }
  osVersion(d: Digest): string { return this.ociEntry(d).platform?.['os.version'] ?? ''; }
  variant(d: Digest): string { return this.ociEntry(d).platform?.variant ?? ''; }
  osFeatures(d: Digest): string[] { return [...(this.ociEntry(d).platform?.['os.features'] ?? [])]; }
  features(d: Digest): string[] { return [...(this.dockerEntry(d).platform?.features ?? [])]; }
  urls(d: Digest): string[] { return [...(this.ociEntry(d).urls ?? [])]; }
  mediaType(d: Digest): string { return this.ociEntry(d).mediaType; }
  artifactType(d: Digest | null): string { return (d === null ? this.oci.artifactType : this.ociEntry(d).artifactType) ?? ''; }
  annotations(d: Digest | null): Record<string, string> {
    return { ...((d === null ? this.oci.annotations : this.ociEntry(d).annotations) ?? {}) };
  }

  // ---- setters: both views, then collapse an OCI platform that became empty ----
  private setPlatformField(d: Digest, key: 'os' | 'architecture' | 'os.version' | 'variant', value: string): void {
    const de = this.dockerEntry(d);
    const oe = this.ociEntry(d);
    de.platform ??= { architecture: '', os: '' };
    if (key === 'os' || key === 'architecture') de.platform[key] = value;
    else if (value) de.platform[key] = value;
    else delete de.platform[key];
    oe.platform ??= { architecture: '', os: '' };
    if (key === 'os' || key === 'architecture') oe.platform[key] = value;
    else if (value) oe.platform[key] = value;
    else delete oe.platform[key];
    if (ociPlatformEmpty(oe.platform)) delete oe.platform;
  }

  setOS(d: Digest, v: string): void { this.setPlatformField(d, 'os', v); }
  setArchitecture(d: Digest, v: string): void { this.setPlatformField(d, 'architecture', v); }
  setOSVersion(d: Digest, v: string): void { this.setPlatformField(d, 'os.version', v); }
  setVariant(d: Digest, v: string): void { this.setPlatformField(d, 'variant', v); }

  setOSFeatures(d: Digest, features: string[]): void {
    const de = this.dockerEntry(d);
    const oe = this.ociEntry(d);
    const v = emptyToUndef(features);
    de.platform ??= { architecture: '', os: '' };
    if (v) de.platform['os.features'] = v;
    else delete de.platform['os.features'];
    oe.platform ??= { architecture: '', os: '' };
    if (v) oe.platform['os.features'] = [...v];
    else delete oe.platform['os.features'];
    if (ociPlatformEmpty(oe.platform)) delete oe.platform;
  }

  /** Docker view only: the OCI image-spec has no per-instance features. */
  setFeatures(d: Digest, features: string[]): void {
    const de = this.dockerEntry(d);
    const v = emptyToUndef(features);
    de.platform ??= { architecture: '', os: '' };
    if (v) de.platform.features = v;
    else delete de.platform.features;
  }

  setURLs(d: Digest, urls: string[]): void {
    const de = this.dockerEntry(d);
    const oe = this.ociEntry(d);
    const v = emptyToUndef(urls);
    if (v) {
      de.urls = v;
      oe.urls = [...v];
    } else {
      delete de.urls;
      delete oe.urls;
    }
  }

  /** Merge keys into an instance's (or, for null, the index's) annotations; an empty result is absent. */
  setAnnotations(d: Digest | null, annotations: Record<string, string>): void {
    const target = d === null ? this.oci : this.ociEntry(d);
    const merged = { ...(target.annotations ?? {}), ...annotations };
    if (Object.keys(merged).length > 0) target.annotations = merged;
    else delete target.annotations;
  }

  clearAnnotations(d: Digest | null): void {
    const target = d === null ? this.oci : this.ociEntry(d);
    delete target.annotations;
  }

  setMediaType(d: Digest, mediaType: string): void {
    this.ociEntry(d).mediaType = mediaType;
  }

  setArtifactType(d: Digest | null, t: string): void {
    const target = d === null ? this.oci : this.ociEntry(d);
    if (t) target.artifactType = t;
    else delete target.artifactType;
  }

  setSubject(subject: Descriptor | null): void {
    if (subject) this.oci.subject = structuredClone(subject);
    else delete this.oci.subject;
  }

  /** preferOCI(): which format an unspecified Serialize writes. */
  preferOCI(): boolean {
    if (this.oci.artifactType || this.oci.subject || (this.oci.annotations && Object.keys(this.oci.annotations).length > 0)) return true;
    for (const m of this.oci.manifests ?? []) {
      if (m.artifactType || (m.annotations && Object.keys(m.annotations).length > 0) || m.data) return true;
    }
    for (const m of this.docker ?? []) {
      if (m.platform?.features?.length) return false;
    }
    return (this.docker?.length ?? 0) > 0;
  }

  /** The type Serialize("") would write. */
  defaultMediaType(): string {
    return this.preferOCI() ? OCI_INDEX : DOCKER_LIST;
  }

  /** Serialize(mimeType): Go-identical bytes of the chosen view. */
  serialize(mimeType = ''): Buffer {
    const mt = mimeType === '' ? this.defaultMediaType() : mimeType;
    if (mt === OCI_INDEX) return serializeOCIIndex(this.oci);
    if (mt === DOCKER_LIST) return serializeDockerList({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: this.docker });
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `manifest type ${JSON.stringify(mt)} is not supported for a list (use ${OCI_INDEX} or ${DOCKER_LIST})`);
  }
}

function stripFeatures(p: Platform | undefined): Platform {
  const { features: _features, ...rest } = p ?? { architecture: '', os: '' };
  return rest;
}

export function parseAnnotations(list: string[] | undefined): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i < 0) out[a] = '';
    else out[a.slice(0, i)] = a.slice(i + 1);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
