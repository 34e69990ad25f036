import { ErrorCodes, PlaitError, isPlaitError } from '../errors.js';
import { parseDigest } from './digest.js';
import {
  DOCKER_CONFIG,
  DOCKER_FOREIGN_LAYER,
  DOCKER_FOREIGN_LAYER_GZIP,
  DOCKER_LAYER,
  DOCKER_LAYER_GZIP,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  isListType,
  isSchema1,
  isSupportedManifestType,
  normaliseMediaType,
  type ImageManifestMediaType,
  type ListMediaType,
  type SupportedManifestMediaType,
} from './mediatype.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from './types.js';

export type { Descriptor, ImageIndex, ImageManifest, Platform } from './types.js';

// Manifests are parsed from the exact bytes that were fetched or stored and are never re-serialized: their digest is
// the hash of those bytes. Validation follows containers/image (schemaVersion, media type, the "unambiguous format"
// check) plus the OCI descriptor rules, and every error names the JSON path it is about.

/** containers/image refuses manifest bodies above 4 MiB (iolimits.MaxManifestBodySize); so do we. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export type ParsedManifest =
  | { kind: 'image'; mediaType: ImageManifestMediaType; manifest: ImageManifest }
  | { kind: 'index'; mediaType: ListMediaType; index: ImageIndex };

type Json = Record<string, unknown>;
type Flavour = 'oci' | 'docker';

// Content-Types that say nothing about the manifest format (CDNs, static file servers): judge by the body instead.
const UNINFORMATIVE_CONTENT_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);

// The "essential" fields containers/image uses to reject documents that look like more than one format.
const FORMAT_FIELDS = ['config', 'fsLayers', 'history', 'layers', 'manifests'] as const;

// Layer types a Docker schema 2 manifest may carry (CI manifest.SupportedSchema2MediaType, restricted to layers).
const DOCKER_LAYER_TYPES = new Set([DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER, DOCKER_FOREIGN_LAYER_GZIP]);

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(path: string, reason: string): never {
  throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${path}: ${reason}`, { details: { path } });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v;
}

// One decoder for every manifest: making a TextDecoder costs more than decoding a list, and a whole-input decode
// keeps no state between calls.
// ignoreBOM keeps a leading BOM in the text so that JSON.parse rejects it, as Go's decoder does.
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

function decode(bytes: Uint8Array | string): unknown {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes, 'utf8') : bytes.byteLength;
  if (size > MAX_MANIFEST_BYTES) {
    throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `manifest is ${size} bytes, more than the ${MAX_MANIFEST_BYTES}-byte (4 MiB) limit`, {
      details: { size },
    });
  }
  const text = typeof bytes === 'string' ? bytes : UTF8.decode(bytes);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `manifest is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

// ---- GuessMIMEType ---------------------------------------------------------------------------------------------
// Go decodes into typed structs, and any type mismatch makes json.Unmarshal fail, in which case GuessMIMEType
// answers "". These predicates mirror which JSON values those structs accept (null is always accepted).

const goString = (v: unknown) => v == null || typeof v === 'string';
const goInt = (v: unknown) => v == null || (typeof v === 'number' && Number.isInteger(v));
const goStrings = (v: unknown) => v == null || (Array.isArray(v) && v.every(goString));
const goStringMap = (v: unknown) => v == null || (isObject(v) && Object.values(v).every(goString));
const goBytes = (v: unknown) => v == null || (typeof v === 'string' && BASE64.test(v.replace(/[\r\n]/g, '')));

function goPlatform(v: unknown): boolean {
  if (v == null) return true;
  if (!isObject(v)) return false;
  return goString(v.architecture) && goString(v.os) && goString(v['os.version']) && goStrings(v['os.features']) && goString(v.variant);
}

function goDescriptor(v: unknown): boolean {
  if (v == null) return true;
  if (!isObject(v)) return false;
  return (
    goString(v.mediaType) &&
    goString(v.digest) &&
    goInt(v.size) &&
    goStrings(v.urls) &&
    goStringMap(v.annotations) &&
    goBytes(v.data) &&
    goPlatform(v.platform) &&
    goString(v.artifactType)
  );
}

function guessFromValue(value: unknown): string {
  if (value === null) return '';
  if (!isObject(value)) return '';
  const { mediaType, schemaVersion, signatures } = value;
  if (!goString(mediaType) || !goInt(schemaVersion)) return '';
  switch (mediaType) {
    case DOCKER_MANIFEST:
    case DOCKER_LIST:
    case OCI_MANIFEST:
    case OCI_INDEX:
      return mediaType;
  }
  if (schemaVersion === 1) return signatures != null ? DOCKER_SCHEMA1_SIGNED : DOCKER_SCHEMA1;
  if (schemaVersion !== 2) return '';
  // OCI manifests written before image-spec 1.0.2 carry no mediaType; the config type identifies them.
  const config = value.config;
  if (config != null && !isObject(config)) return '';
  const configType = config == null ? undefined : config.mediaType;
  if (!goString(configType)) return '';
  if (configType === OCI_CONFIG) return OCI_MANIFEST;
  if (configType === DOCKER_CONFIG) return DOCKER_MANIFEST;
  const manifests = value.manifests;
  if (manifests != null && !Array.isArray(manifests)) return '';
  if (Array.isArray(manifests) && !manifests.every(goDescriptor)) return '';
  if (Array.isArray(manifests) && manifests.length > 0) {
    // containers/image returns the config's type here (its own FIXME admits it mixes kinds); keep that answer.
    return configType == null || configType === '' ? OCI_INDEX : configType;
  }
  // Most likely an OCI artifact with a custom config type.
  return OCI_MANIFEST;
}

/**
 * containers/image GuessMIMEType: the manifest type judged from content alone, or "" when unrecognised or not
 * decodable. A recognised top-level mediaType wins; schemaVersion 1 is schema 1 (signed when `signatures` is set);
 * for schemaVersion 2 the config type, then a non-empty `manifests` array without config, decide; anything else
 * with schemaVersion 2 is taken for an OCI (artifact) manifest.
 */
export function guessMediaType(bytes: Uint8Array | string): string {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch {
    return '';
  }
  return guessFromValue(value);
}

// ---- field readers ---------------------------------------------------------------------------------------------

function optString(obj: Json, key: string, path: string): string | undefined {
  const v = obj[key];
  if (v == null) return undefined;
  if (typeof v !== 'string') fail(path, `must be a string, got ${describe(v)}`);
  return v;
}

function optStrings(obj: Json, key: string, path: string): string[] | undefined {
  const v = obj[key];
  if (v == null) return undefined;
  if (!Array.isArray(v)) fail(path, `must be an array of strings, got ${describe(v)}`);
  return v.map((item, i) => {
    if (typeof item !== 'string') fail(`${path}[${i}]`, `must be a string, got ${describe(item)}`);
    return item;
  });
}

function optAnnotations(obj: Json, key: string, path: string): Record<string, string> | undefined {
  const v = obj[key];
  if (v == null) return undefined;
  if (!isObject(v)) fail(path, `must be an object mapping strings to strings, got ${describe(v)}`);
  const entries = Object.entries(v).map(([k, val]): [string, string] => {
    if (typeof val !== 'string') fail(`${path}[${JSON.stringify(k)}]`, `must be a string, got ${describe(val)}`);
    return [k, val];
  });
  // fromEntries defines own properties, so even a "__proto__" key survives the copy.
  return Object.fromEntries(entries);
}

function parsePlatformObject(v: unknown, path: string, flavour: Flavour): Platform {
  if (!isObject(v)) fail(path, `must be an object, got ${describe(v)}`);
  const architecture = v.architecture;
  const os = v.os;
  if (typeof architecture !== 'string') fail(`${path}.architecture`, architecture === undefined ? 'missing' : `must be a string, got ${describe(architecture)}`);
  if (typeof os !== 'string') fail(`${path}.os`, os === undefined ? 'missing' : `must be a string, got ${describe(os)}`);
  const p: Platform = { architecture, os };
  const osVersion = optString(v, 'os.version', `${path}["os.version"]`);
  if (osVersion !== undefined) p['os.version'] = osVersion;
  const osFeatures = optStrings(v, 'os.features', `${path}["os.features"]`);
  if (osFeatures !== undefined) p['os.features'] = osFeatures;
  const variant = optString(v, 'variant', `${path}.variant`);
  if (variant !== undefined) p.variant = variant;
  // The OCI struct has no `features`; Go drops it when decoding an index, so do we.
  if (flavour === 'docker') {
    const features = optStrings(v, 'features', `${path}.features`);
    if (features !== undefined) p.features = features;
  }
  return p;
}

function parseDescriptor(v: unknown, path: string, flavour: Flavour, withPlatform: boolean): Descriptor {
  if (!isObject(v)) fail(path, `must be an object, got ${describe(v)}`);
  const mediaType = v.mediaType;
  if (typeof mediaType !== 'string') fail(`${path}.mediaType`, mediaType === undefined ? 'missing' : `must be a string, got ${describe(mediaType)}`);
  if (mediaType === '') fail(`${path}.mediaType`, 'must not be empty');
  const digest = v.digest;
  if (typeof digest !== 'string') fail(`${path}.digest`, digest === undefined ? 'missing' : `must be a string, got ${describe(digest)}`);
  let parsedDigest;
  try {
    parsedDigest = parseDigest(digest);
  } catch (e) {
    if (!isPlaitError(e)) throw e;
    throw new PlaitError(e.code, `${path}.digest: ${e.message}`, { cause: e, details: { path: `${path}.digest`, digest } });
  }
  const size = v.size;
  if (size === undefined) fail(`${path}.size`, 'missing');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    fail(`${path}.size`, `must be a non-negative integer, got ${describe(size)}`);
  }
  const d: Descriptor = { mediaType, digest: parsedDigest, size };
  const urls = optStrings(v, 'urls', `${path}.urls`);
  if (urls !== undefined) d.urls = urls;
  if (flavour === 'oci') {
    const annotations = optAnnotations(v, 'annotations', `${path}.annotations`);
    if (annotations !== undefined) d.annotations = annotations;
    const data = optString(v, 'data', `${path}.data`);
    if (data !== undefined) {
      if (!BASE64.test(data.replace(/[\r\n]/g, ''))) fail(`${path}.data`, 'must be standard padded base64');
      d.data = data;
    }
  }
  if ((flavour === 'oci' || withPlatform) && v.platform != null) {
    d.platform = parsePlatformObject(v.platform, `${path}.platform`, flavour);
  }
  if (flavour === 'oci') {
    const artifactType = optString(v, 'artifactType', `${path}.artifactType`);
    if (artifactType !== undefined) d.artifactType = artifactType;
  }
  return d;
}

// ---- media type decision ---------------------------------------------------------------------------------------

function refuseSchema1(how: string): never {
  throw new PlaitError(
    ErrorCodes.E_UNSUPPORTED,
    `Docker schema 1 manifests (${how}) are not supported for writing; re-push the image as Docker schema 2 or OCI`,
  );
}

function kindName(mt: string): string {
  switch (mt) {
    case OCI_INDEX:
      return 'an OCI image index';
    case DOCKER_LIST:
      return 'a Docker manifest list';
    case OCI_MANIFEST:
      return 'an OCI image manifest';
    default:
      return 'a Docker schema 2 manifest';
  }
}

function decideMediaType(obj: Json, contentType: string | undefined): SupportedManifestMediaType {
  const field = optString(obj, 'mediaType', 'mediaType') ?? '';
  const declared = normaliseMediaType(contentType);
  const announced = UNINFORMATIVE_CONTENT_TYPES.has(declared) ? '' : declared;

  // What the document is said to be comes first: "this is a config blob" explains more than "schemaVersion missing".
  if (isSchema1(announced)) refuseSchema1(`Content-Type ${announced}`);
  if (isSchema1(field)) refuseSchema1(`mediaType ${field}`);
  if (obj.schemaVersion === 1) refuseSchema1('schemaVersion 1');
  if (announced !== '' && !isSupportedManifestType(announced)) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `Content-Type ${JSON.stringify(announced)} is not a supported manifest type`, {
      details: { contentType: announced },
    });
  }
  if (field !== '' && !isSupportedManifestType(field)) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `mediaType: ${JSON.stringify(field)} is not a supported manifest type`, {
      details: { path: 'mediaType', mediaType: field },
    });
  }
  if (obj.schemaVersion !== 2) {
    fail('schemaVersion', obj.schemaVersion === undefined ? 'missing; must be 2' : `must be 2, got ${describe(obj.schemaVersion)}`);
  }
  if (announced !== '' && field !== '' && field !== announced) {
    fail('mediaType', `${JSON.stringify(field)} does not match the Content-Type ${JSON.stringify(announced)}`);
  }
  if (announced !== '') return announced;
  if (field !== '') return field;

  const guessed = guessFromValue(obj);
  // GuessMIMEType calls an empty index without mediaType an (artifact) manifest; a document with `manifests` and no
  // `config` can only be an index, so read it as one rather than fail on the missing config.
  if (guessed === OCI_MANIFEST && obj.config == null && 'manifests' in obj) return OCI_INDEX;
  if (isSupportedManifestType(guessed)) return guessed;
  fail('mediaType', 'missing, and the content does not identify the manifest type (no config of a known type, no manifests)');
}

function checkUnambiguous(obj: Json, mt: SupportedManifestMediaType): void {
  const allowed: readonly string[] = isListType(mt) ? ['manifests'] : ['config', 'layers'];
  for (const key of FORMAT_FIELDS) {
    if (obj[key] != null && !allowed.includes(key)) {
      fail(key, `not allowed in ${kindName(mt)} (the document is ambiguous about its format)`);
    }
  }
}

// ---- public parsers --------------------------------------------------------------------------------------------

function parseIndexObject(obj: Json, mt: ListMediaType): ImageIndex {
  const flavour: Flavour = mt === OCI_INDEX ? 'oci' : 'docker';
  if (!('manifests' in obj)) fail('manifests', `missing; ${kindName(mt)} must list its manifests`);
  const raw = obj.manifests;
  if (raw !== null && !Array.isArray(raw)) fail('manifests', `must be an array, got ${describe(raw)}`);
  const field = optString(obj, 'mediaType', 'mediaType');
  const artifactType = flavour === 'oci' ? optString(obj, 'artifactType', 'artifactType') : undefined;
  const manifests = raw === null ? null : raw.map((m, i) => parseDescriptor(m, `manifests[${i}]`, flavour, true));
  const subject = flavour === 'oci' && obj.subject != null ? parseDescriptor(obj.subject, 'subject', flavour, false) : undefined;
  const annotations = flavour === 'oci' ? optAnnotations(obj, 'annotations', 'annotations') : undefined;
  return {
    schemaVersion: 2,
    ...(field !== undefined && field !== '' && { mediaType: field }),
    ...(artifactType !== undefined && { artifactType }),
    manifests,
    ...(subject !== undefined && { subject }),
    ...(annotations !== undefined && { annotations }),
  };
}

function parseImageObject(obj: Json, mt: ImageManifestMediaType): ImageManifest {
  const flavour: Flavour = mt === OCI_MANIFEST ? 'oci' : 'docker';
  const field = optString(obj, 'mediaType', 'mediaType');
  if (flavour === 'docker' && (field === undefined || field === '')) {
    // containers/image checks the v2s2 mediaType against its known Docker types, and "" is not one of them.
    fail('mediaType', 'missing; a Docker schema 2 manifest must declare its mediaType');
  }
  if (obj.config == null) fail('config', `missing; ${kindName(mt)} must have a config descriptor`);
  if (!('layers' in obj)) fail('layers', `missing; ${kindName(mt)} must list its layers`);
  const rawLayers = obj.layers;
  if (rawLayers !== null && !Array.isArray(rawLayers)) fail('layers', `must be an array, got ${describe(rawLayers)}`);

  const artifactType = flavour === 'oci' ? optString(obj, 'artifactType', 'artifactType') : undefined;
  const config = parseDescriptor(obj.config, 'config', flavour, false);
  const layers = (rawLayers ?? []).map((l, i) => parseDescriptor(l, `layers[${i}]`, flavour, false));
  if (flavour === 'docker') {
    layers.forEach((l, i) => {
      if (!DOCKER_LAYER_TYPES.has(l.mediaType)) {
        fail(`layers[${i}].mediaType`, `${JSON.stringify(l.mediaType)} is not a Docker schema 2 layer type`);
      }
    });
  }
  const subject = flavour === 'oci' && obj.subject != null ? parseDescriptor(obj.subject, 'subject', flavour, false) : undefined;
  const annotations = flavour === 'oci' ? optAnnotations(obj, 'annotations', 'annotations') : undefined;

  // Built in the struct's field order so that printing a parsed manifest reads like the document.
  return {
    schemaVersion: 2,
    ...(field !== undefined && field !== '' && { mediaType: field }),
    ...(artifactType !== undefined && { artifactType }),
    config,
    layers,
    ...(subject !== undefined && { subject }),
    ...(annotations !== undefined && { annotations }),
  };
}

/**
 * Parse and validate a manifest or list from its exact bytes. `contentType` is the registry's Content-Type (or the
 * media type recorded with the bytes); when given it must agree with the document's own `mediaType`. Generic types
 * such as application/json are ignored and the content decides.
 */
export function parseManifest(bytes: Uint8Array | string, contentType?: string): ParsedManifest {
  const value = decode(bytes);
  if (!isObject(value)) fail('(root)', `a manifest must be a JSON object, got ${describe(value)}`);
  const mt = decideMediaType(value, contentType);
  checkUnambiguous(value, mt);
  if (isListType(mt)) return { kind: 'index', mediaType: mt, index: parseIndexObject(value, mt) };
  return { kind: 'image', mediaType: mt, manifest: parseImageObject(value, mt) };
}

/** Like parseManifest, but only lists are acceptable (containers/common FromBlob): anything else is E_UNSUPPORTED. */
export function parseManifestList(bytes: Uint8Array | string, contentType?: string): { mediaType: ListMediaType; index: ImageIndex } {
  const parsed = parseManifest(bytes, contentType);
  if (parsed.kind !== 'index') {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `not a manifest list: the document is ${kindName(parsed.mediaType)} (${parsed.mediaType})`, {
      details: { mediaType: parsed.mediaType },
    });
  }
  return { mediaType: parsed.mediaType, index: parsed.index };
}
