import { ErrorCodes, PlaitError } from '../errors.js';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from './mediatype.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from './types.js';

// A JSON encoder that writes what Go's encoding/json Marshal writes, byte for byte, so that a list plait serializes
// has the digest containers/common would give it. JSON.stringify differs in four ways that matter here: it does not
// HTML-escape < > &, it leaves U+2028/U+2029 raw, it does not sort map keys, and it cannot tell a nil slice (null)
// from an empty one.
//
// How JS values stand for Go values:
//   plain object / GoStruct → struct: fields in insertion order; a field whose value is `undefined` is left out
//                             (build fields with omitEmpty() where the Go tag says omitempty)
//   GoMap / Map             → map[string]T: keys sorted by their UTF-8 bytes, as Go sorts them
//   array                   → slice; `null` → nil slice / nil map / nil pointer
//   Uint8Array              → []byte: standard padded base64
//   string, boolean, number (integral → int64, else float64), bigint (int64 beyond 2^53)

/** A Go map value: encoded with its keys sorted bytewise. */
export class GoMap {
  readonly entries: ReadonlyArray<readonly [string, unknown]>;
  constructor(m: Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>) {
    this.entries = m instanceof Map ? [...(m as ReadonlyMap<string, unknown>).entries()] : Object.entries(m);
  }
}

/**
 * A Go struct with an explicit field order. Plain objects do the same job, except that JS moves integer-like keys
 * to the front of an object, so a struct with such a JSON name needs this.
 */
export class GoStruct {
  constructor(readonly fields: ReadonlyArray<readonly [string, unknown]>) {}
}

export function goMap(m: Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>): GoMap {
  return new GoMap(m);
}

/** `undefined` for what Go's omitempty treats as empty (false, 0, "", nil, zero-length slice or map); else `v`. */
export function omitEmpty<T>(v: T): T | undefined {
  if (v === undefined || v === null || v === false || v === '' || v === 0 || v === 0n) return undefined;
  if (Array.isArray(v) && v.length === 0) return undefined;
  if (v instanceof Uint8Array && v.byteLength === 0) return undefined;
  if (v instanceof GoMap && v.entries.length === 0) return undefined;
  if (v instanceof Map && v.size === 0) return undefined;
  return v;
}

export interface GoJSONOptions {
  /**
   * Escape \b and \f as \u0008 and \u000c, as Go 1.21 and older did (Go 1.22 switched to the short forms). Debian's
   * podman 4.3 / skopeo 1.9 were built with such an older Go.
   */
  legacyControlEscapes?: boolean;
}

const HEX = '0123456789abcdef';

function escapeUnit(c: number, legacy: boolean): string {
  switch (c) {
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x08:
      if (!legacy) return '\\b';
      break;
    case 0x0c:
      if (!legacy) return '\\f';
      break;
  }
  return `\\u${HEX[(c >> 12) & 15]}${HEX[(c >> 8) & 15]}${HEX[(c >> 4) & 15]}${HEX[c & 15]}`;
}

/** Any unit goQuote rewrites: controls, quote, backslash, <, >, &, U+2028/U+2029 and surrogates (paired or not). */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;

/** A Go-quoted JSON string (HTML-safe escaping, U+2028/U+2029 escaped, lone surrogates as \ufffd). */
export function goQuote(s: string, opts: GoJSONOptions = {}): string {
  // Digests, media types and platform names, nearly every string of a manifest, need no escape at all.
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  const legacy = opts.legacyControlEscapes === true;
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      rep = escapeUnit(c, legacy);
    } else if (c === 0x2028 || c === 0x2029) {
      rep = escapeUnit(c, legacy);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair is one rune, written as raw UTF-8
        continue;
      }
      // A lone surrogate cannot be UTF-8; Go writes invalid bytes as the escaped replacement character.
      rep = '\\ufffd';
    }
    if (rep !== undefined) {
      out += s.slice(start, i) + rep;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function encodeNumber(n: number): string {
  if (!Number.isFinite(n)) {
    throw new PlaitError(ErrorCodes.E_INTERNAL, `json: unsupported value: ${n}`);
  }
  // JS and Go's float64 encoder agree: shortest round-trip digits, exponent form below 1e-6 and from 1e21 on, and
  // the exponent without leading zeros. -0 is treated as the int64 0 it nearly always stands for.
  return Object.is(n, -0) ? '0' : String(n);
}

// Where a value sits, for error messages only: built as links as the encoder descends, and turned into text only when
// it fails (formatting a path for every field cost more than encoding the field).
interface PathLink { up: PathLink | undefined; key: string | number; map?: boolean }

function pathText(p: PathLink | undefined): string {
  if (p === undefined) return '';
  const up = pathText(p.up);
  if (typeof p.key === 'number') return `${up}[${p.key}]`;
  if (p.map === true) return `${up}[${JSON.stringify(p.key)}]`;
  return up ? `${up}.${p.key}` : p.key;
}

function encode(v: unknown, opts: GoJSONOptions, path: PathLink | undefined): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return goQuote(v, opts);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return encodeNumber(v);
    case 'bigint':
      return v.toString();
    case 'object':
      break;
    default:
      throw new PlaitError(ErrorCodes.E_INTERNAL, `gojson: cannot encode ${typeof v} at ${pathText(path) || '(root)'}`);
  }
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      if (item === undefined) throw new PlaitError(ErrorCodes.E_INTERNAL, `gojson: undefined slice element at ${pathText(path)}[${i}]`);
      out += (i === 0 ? '' : ',') + encode(item, opts, { up: path, key: i });
    }
    return out + ']';
  }
  if (v instanceof Uint8Array) {
    return `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"`;
  }
  if (v instanceof GoMap || v instanceof Map) {
    const entries = v instanceof GoMap ? [...v.entries] : [...(v as Map<unknown, unknown>).entries()];
    const sorted = entries
      .map(([k, val]) => {
        if (typeof k !== 'string') throw new PlaitError(ErrorCodes.E_INTERNAL, `gojson: map key at ${pathText(path)} is not a string`);
        return [k, val] as const;
      })
      .sort((a, b) => compareUtf8(a[0], b[0]));
    return `{${sorted.map(([k, val]) => `${goQuote(k, opts)}:${val === undefined ? 'null' : encode(val, opts, { up: path, key: k, map: true })}`).join(',')}}`;
  }
  const fields = v instanceof GoStruct ? v.fields : Object.entries(v);
  let out = '{';
  for (const [k, val] of fields) {
    if (val === undefined) continue;
    out += (out.length === 1 ? '' : ',') + goQuote(k, opts) + ':' + encode(val, opts, { up: path, key: k });
  }
  return out + '}';
}

/** The text json.Marshal would produce for `value` (compact, no trailing newline). */
export function goMarshalString(value: unknown, opts: GoJSONOptions = {}): string {
  if (value === undefined) throw new PlaitError(ErrorCodes.E_INTERNAL, 'gojson: cannot encode undefined');
  return encode(value, opts, undefined);
}

/** The bytes json.Marshal would produce for `value`. */
export function goMarshal(value: unknown, opts: GoJSONOptions = {}): Buffer {
  return Buffer.from(goMarshalString(value, opts), 'utf8');
}

/**
 * What Go's json.Indent(dst, src, "", indent) writes for the compact JSON `src`, so goIndent(goMarshal(v), '  ') is
 * json.MarshalIndent(v, "", "  ") — the layout manifest-tool (v2.2.1, measured) gives the lists it pushes: every
 * member on its own line, `"key": value`, empty objects and arrays kept as {} and []. String contents are copied as
 * they are, escapes included; whitespace outside strings is dropped.
 */
export function goIndent(src: Buffer, indent: string): Buffer {
  let out = '';
  const text = src.toString('utf8');
  let depth = 0;
  let needIndent = false;
  let inString = false;
  const newline = (d: number) => `\n${indent.repeat(d)}`;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== '}' && c !== ']') {
      needIndent = false;
      depth++;
      out += newline(depth);
    }
    switch (c) {
      case '"':
        inString = true;
        out += c;
        break;
      case '{':
      case '[':
        needIndent = true;
        out += c;
        break;
      case ',':
        out += c + newline(depth);
        break;
      case ':':
        out += ': ';
        break;
      case '}':
      case ']':
        if (needIndent) needIndent = false;
        else out += newline(--depth);
        out += c;
        break;
      default:
        out += c;
    }
  }
  return Buffer.from(out, 'utf8');
}

// ---- containers/common's structs -------------------------------------------------------------------------------
// Field order and omitempty follow image-spec specs-go/v1 (Index, Descriptor, Platform, Manifest) and containers/image
// internal/manifest (Schema2List, Schema2ManifestDescriptor, Schema2Descriptor, Schema2PlatformSpec, Schema2).
// The top-level mediaType written is always the format's own type, whatever the input object says: containers/common
// initialises each side of its list with that type (also when loading a blob that lacks it), and the same ImageIndex
// value may be written in either format.

function stringMap(m: Record<string, string> | undefined): GoMap | undefined {
  return m === undefined ? undefined : omitEmpty(goMap(m));
}

function ociPlatform(p: Platform): Record<string, unknown> {
  return {
    architecture: p.architecture ?? '',
    os: p.os ?? '',
    'os.version': omitEmpty(p['os.version']),
    'os.features': omitEmpty(p['os.features']),
    variant: omitEmpty(p.variant),
  };
}

function ociDescriptor(d: Descriptor): Record<string, unknown> {
  return {
    mediaType: d.mediaType ?? '',
    digest: d.digest ?? '',
    size: d.size,
    urls: omitEmpty(d.urls),
    annotations: stringMap(d.annotations),
    // []byte: decode and re-encode so that the output is canonical base64 whatever spelling the input used.
    data: d.data === undefined ? undefined : omitEmpty(Buffer.from(d.data, 'base64')),
    platform: d.platform === undefined ? undefined : ociPlatform(d.platform),
    artifactType: omitEmpty(d.artifactType),
  };
}

function dockerPlatform(p: Platform | undefined): Record<string, unknown> {
  return {
    architecture: p?.architecture ?? '',
    os: p?.os ?? '',
    'os.version': omitEmpty(p?.['os.version']),
    'os.features': omitEmpty(p?.['os.features']),
    variant: omitEmpty(p?.variant),
    features: omitEmpty(p?.features),
  };
}

function dockerDescriptor(d: Descriptor): Record<string, unknown> {
  return { mediaType: d.mediaType ?? '', size: d.size, digest: d.digest ?? '', urls: omitEmpty(d.urls) };
}

/** An OCI image index exactly as containers/common (Go) serializes it. */
export function serializeOCIIndex(index: ImageIndex, opts: GoJSONOptions = {}): Buffer {
  return goMarshal(
    {
      schemaVersion: index.schemaVersion ?? 2,
      mediaType: OCI_INDEX,
      artifactType: omitEmpty(index.artifactType),
      manifests: index.manifests == null ? null : index.manifests.map(ociDescriptor),
      subject: index.subject === undefined ? undefined : ociDescriptor(index.subject),
      annotations: stringMap(index.annotations),
    },
    opts,
  );
}

/**
 * A Docker manifest list exactly as containers/common (Go) serializes it: size before digest, a platform object on
 * every entry (architecture and os always written), no annotations. OCI-only fields of the input are not written.
 */
export function serializeDockerList(list: ImageIndex, opts: GoJSONOptions = {}): Buffer {
  return goMarshal(
    {
      schemaVersion: list.schemaVersion ?? 2,
      mediaType: DOCKER_LIST,
      manifests: list.manifests == null ? null : list.manifests.map((d) => ({ ...dockerDescriptor(d), platform: dockerPlatform(d.platform) })),
    },
    opts,
  );
}

/** An OCI image manifest as Go's image-spec struct serializes it (used for manifests plait builds itself). */
export function serializeOCIManifest(m: ImageManifest, opts: GoJSONOptions = {}): Buffer {
  return goMarshal(
    {
      schemaVersion: m.schemaVersion ?? 2,
      mediaType: OCI_MANIFEST,
      artifactType: omitEmpty(m.artifactType),
      config: ociDescriptor(m.config),
      layers: m.layers == null ? null : m.layers.map(ociDescriptor),
      subject: m.subject === undefined ? undefined : ociDescriptor(m.subject),
      annotations: stringMap(m.annotations),
    },
    opts,
  );
}

/** A Docker schema 2 manifest as containers/image's Schema2 struct serializes it. */
export function serializeDockerManifest(m: ImageManifest, opts: GoJSONOptions = {}): Buffer {
  return goMarshal(
    {
      schemaVersion: m.schemaVersion ?? 2,
      mediaType: DOCKER_MANIFEST,
      config: dockerDescriptor(m.config),
      layers: m.layers == null ? null : m.layers.map(dockerDescriptor),
    },
    opts,
  );
}
