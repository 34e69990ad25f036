import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import type { Ajv, ErrorObject, Options as AjvOptions, ValidateFunction } from 'ajv';
import { isPlaitError } from '../../errors.js';
import { parseImageName } from '../../oci/image-name.js';
import { formatPlatform, normalisePlatform, parsePlatform, platformKey } from '../../oci/platform.js';
import { unknownPlatformPart } from '../../oci/platform-known.js';
import { parseReference } from '../../oci/reference.js';
import type { Platform } from '../../oci/types.js';
import { parseDuration } from './duration.js';
import { sizeProblems } from './limits.js';
import { NO_POSITIONS, STDIN_NAME } from './load.js';
import type { LoadedSpec, Position, Positions } from './load.js';
import { Problem, formatPath } from './problem.js';
import type { JsonPath, PathSegment } from './problem.js';
import { manifestListSchema } from './schema.js';
import { precompiled } from './precompiled.js';
import type { JsonSchema } from './schema.js';
import { API_VERSION, KIND } from './types.js';

// Validation of one ManifestList document in two passes, each problem reported once, on one line, where it is:
//   1. the JSON Schema (ajv, all errors, no defaults applied: the raw document is what the user wrote), with ajv's
//      messages rewritten into plain ones ("must be one of oci, docker", "is required", "unknown field").
//   2. checks no schema can express: references and transports, platforms and their aliases, conflicts between
//      sources, compression against the format, key files and passphrase sources, secretRefs and other references
//      to Kubernetes objects outside the controller, the interval's floor, durations that fit and are not zero. A
//      value the schema already refused is not checked again, so that one mistake gives one line.
// Duplicate names across documents are found by checkDuplicateNames, which sees all documents at once.

export type Context = 'cli' | 'controller';

export interface ValidateOptions {
  /** 'cli' refuses secretRefs (only the controller can read Secrets); 'controller' allows them. */
  context: Context;
  /** Check that key and passphrase files exist and passphrase variables are set (default true). */
  checkLocal?: boolean;
  /** The environment passphrase variables are looked up in; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The shortest interval watch and the controller accept. */
export const MIN_INTERVAL_MS = 10_000;

// RFC 3339 date-time as Kubernetes writes metav1.Time (the schema's `format: date-time`).
const DATE_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/**
 * An ajv instance configured for plait's schema: strict, every error, verbose (errors carry their schema). Compiling
 * is most of `plait validate`'s start-up, so the run-time instance skips what only matters while writing the schema:
 * checking it against the draft-07 meta-schema (the unit tests do that), inlining refs and optimising the code.
 */
export function createAjv(opts: { fast?: boolean; code?: AjvOptions['code']; inlineRefs?: boolean } = {}): Ajv {
  const fast = opts.fast === true ? { validateSchema: false, inlineRefs: false, code: { optimize: false } } : {};
  // Loaded only when a schema is compiled: a bundled plait carries the validator precompiled and never needs ajv's
  // compiler (loading it is a good part of start-up).
  const { Ajv: AjvClass } = createRequire(import.meta.url)('ajv') as { Ajv: typeof Ajv };
  const ajv = new AjvClass({ strict: true, allErrors: true, verbose: true, useDefaults: false, allowUnionTypes: true, ...fast, ...(opts.code && { code: opts.code }), ...(opts.inlineRefs !== undefined && { inlineRefs: opts.inlineRefs }) });
  ajv.addFormat('date-time', DATE_TIME);
  return ajv;
}

let compiled: ValidateFunction | undefined;

/** The compiled schema (compiled once per process). */
export function schemaValidator(): ValidateFunction {
  compiled ??= precompiled ?? createAjv({ fast: true }).compile(manifestListSchema());
  return compiled;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(doc: unknown, path: JsonPath): unknown {
  let cur = doc;
  for (const seg of path) {
    if (typeof seg === 'number') cur = Array.isArray(cur) ? (cur as unknown[])[seg] : undefined;
    else cur = isObject(cur) ? cur[seg] : undefined;
  }
  return cur;
}

function startsWith(path: JsonPath, prefix: JsonPath): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => seg === path[i]);
}

function errorMessage(e: unknown): string {
  return isPlaitError(e) || e instanceof Error ? e.message : String(e);
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  null: 'empty',
};

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The known name closest to a misspelt one, if it is close enough to be a likely typo. */
function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.min(2, Math.floor(name.length / 3))) ? best : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Pass 1: the schema

interface Issue {
  /** The path printed. */
  path: JsonPath;
  at: Position;
  message: string;
  /** What the issue makes unreliable: pass 2 leaves values at, above or below it alone (see flagged). */
  flag: JsonPath;
  keyword: string;
}

let patternMessages: Map<string, string> | undefined;

function patternMessage(pattern: string): string {
  if (patternMessages === undefined) {
    const d = manifestListSchema().definitions ?? {};
    const entries: [string | undefined, string][] = [
      [d.tag?.pattern, 'must be a valid tag: up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"'],
      [d.platformString?.pattern, 'must match os/arch[/variant], e.g. linux/arm64/v8'],
      [d.goDuration?.pattern, 'must be a Go duration such as 45s, 10m or 1h30m'],
      [d.dnsSubdomain?.pattern, 'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit'],
      [d.dnsLabel?.pattern, 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit'],
      [d.digest?.pattern, 'must be a digest, algorithm:encoded (e.g. sha256:<64 hex digits>)'],
      [d.passphraseSource?.properties?.env?.pattern, 'must be an environment variable name: letters, digits and "_", not starting with a digit'],
      [d.secretKeyRef?.properties?.key?.pattern, 'must be a Secret key: letters, digits, "-", "_" and "."'],
      [d.platform?.properties?.os?.pattern, 'must contain only letters, digits, "_", "." and "-"'],
    ];
    patternMessages = new Map(entries.filter((e): e is [string, string] => e[0] !== undefined));
  }
  return patternMessages.get(pattern) ?? `must match the pattern ${pattern}`;
}

function toSegments(instancePath: string, doc: unknown): PathSegment[] {
  if (instancePath === '') return [];
  const out: PathSegment[] = [];
  let cur = doc;
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const n = Number(seg);
      out.push(n);
      cur = (cur as unknown[])[n];
    } else {
      out.push(seg);
      cur = isObject(cur) ? cur[seg] : undefined;
    }
  }
  return out;
}

function propertyNames(schema: unknown): string[] {
  return isObject(schema) && isObject(schema.properties) ? Object.keys(schema.properties) : [];
}

function convert(e: ErrorObject, doc: unknown, positions: Positions): Issue {
  const path = toSegments(e.instancePath, doc);
  const data: unknown = e.data;
  const params = e.params as Record<string, unknown>;
  const issue = (message: string, where: JsonPath = path, at: Position = positions.value(where)): Issue => ({
    path: where,
    at,
    message,
    flag: where,
    keyword: e.keyword,
  });
  switch (e.keyword) {
    case 'required': {
      const missing = path.concat(String(params.missingProperty));
      return issue('is required', missing);
    }
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const hint = suggest(name, propertyNames(e.parentSchema));
      return {
        ...issue(`unknown field ${JSON.stringify(name)}${hint !== undefined ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}`),
        at: positions.key(path.concat(name)),
        flag: path.concat(name),
      };
    }
    case 'type': {
      const expected = ([] as string[]).concat(params.type as string | string[]);
      const scalar = typeof data === 'number' || typeof data === 'boolean';
      if (expected.includes('string') && scalar) {
        const written = positions.source(path) ?? String(data);
        return issue(`must be a string; quote it: ${JSON.stringify(written)}`);
      }
      return issue(`must be ${expected.map((t) => TYPE_NAMES[t] ?? t).join(' or ')}, not ${describeValue(data)}`);
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const last = path[path.length - 1];
      if (data === 'zstd:chunked' && typeof last === 'number' && formatPath(path.slice(0, -1)) === 'spec.compression.variants') {
        return issue('zstd:chunked is not supported (plait does not write chunked zstd layers); use zstd');
      }
      const got = typeof data === 'string' ? ` (got ${JSON.stringify(data)})` : '';
      if (allowed.length === 1) return issue(`must be ${allowed[0] ?? ''}${got}`);
      return issue(`must be one of ${allowed.join(', ')}${got}`);
    }
    case 'pattern':
      return issue(patternMessage(String(params.pattern)));
    case 'uniqueItems': {
      const i = Number(params.i);
      const j = Number(params.j);
      const later = Math.max(i, j);
      const earlier = Math.min(i, j);
      const value = Array.isArray(data) ? (data as unknown[])[later] : undefined;
      return issue(`duplicate ${JSON.stringify(value)} (also at [${earlier}])`, path.concat(later));
    }
    case 'minItems':
      return issue(params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} items`);
    case 'maxItems':
      return issue(`must have at most ${String(params.limit)} items`);
    case 'minLength':
      return issue(params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`);
    case 'maxLength':
      return issue(`must be at most ${String(params.limit)} characters long`);
    case 'minimum':
    case 'maximum': {
      const ps: JsonSchema | undefined = e.parentSchema;
      if (ps?.minimum !== undefined && ps.maximum !== undefined) return issue(`must be between ${ps.minimum} and ${ps.maximum}`);
      return issue(`must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params.limit)}`);
    }
    case 'minProperties':
      return issue(`must set one of ${propertyNames(e.parentSchema).join(', ')}`);
    case 'maxProperties':
      return issue(`must set only one of ${propertyNames(e.parentSchema).join(', ')}`);
    case 'not': {
      // The only `not` in the schema: a source's platform and platforms exclude each other.
      const where = path.concat('platforms');
      return { ...issue('cannot be combined with platform; use one of them', where), at: positions.key(where) };
    }
    case 'format':
      return issue(params.format === 'date-time' ? 'must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z' : `must be a ${String(params.format)}`);
    default:
      return issue(e.message ?? `fails ${e.keyword}`);
  }
}

function schemaIssues(doc: unknown, positions: Positions): Issue[] {
  const validate = schemaValidator();
  if (validate(doc)) return [];
  const errors = validate.errors ?? [];
  // When a value has the wrong type nothing else said about it matters; an unknown field already explains why a
  // mapping has too many properties.
  const typeAt = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const unknownAt = new Set(errors.filter((e) => e.keyword === 'additionalProperties').map((e) => e.instancePath));
  const out: Issue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'type' && typeAt.has(e.instancePath)) continue;
    if ((e.keyword === 'minProperties' || e.keyword === 'maxProperties') && unknownAt.has(e.instancePath)) continue;
    const issue = convert(e, doc, positions);
    const id = `${formatPath(issue.path)}\0${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(issue);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Pass 2: what the schema cannot say

class Checker {
  readonly issues: Issue[] = [];

  constructor(
    readonly doc: Obj,
    readonly positions: Positions,
    readonly schemaIssues: readonly Issue[],
    readonly opts: ValidateOptions,
    readonly baseDir: string,
    readonly fromStdin: boolean,
  ) {}

  /**
   * Whether pass 1 already refused this value or something inside it, or refused something it is inside in a way
   * that makes it meaningless (a wrong type; platforms given next to platform).
   */
  flagged(path: JsonPath): boolean {
    return this.schemaIssues.some((i) => startsWith(i.flag, path) || ((i.keyword === 'type' || i.keyword === 'not') && startsWith(path, i.flag)));
  }

  /** The value at path if pass 1 passed it and it is a string. */
  str(path: JsonPath): string | undefined {
    const v = get(this.doc, path);
    return typeof v === 'string' && !this.flagged(path) ? v : undefined;
  }

  report(path: JsonPath, message: string, at: Position = this.positions.value(path)): void {
    this.issues.push({ path, at, message, flag: path, keyword: 'semantic' });
  }

  run(): void {
    const spec = get(this.doc, ['spec']);
    if (!isObject(spec)) return;
    this.destination();
    this.sources();
    this.platformAllowlist();
    this.conflicts();
    this.compression();
    if (get(this.doc, ['spec', 'convertInstances']) !== undefined && this.str(['spec', 'format']) !== 'docker' && !this.flagged(['spec', 'convertInstances'])) {
      this.report(['spec', 'convertInstances'], 'needs format: docker (an OCI index never converts its instances)');
    }
    this.signatures();
    this.secretRef();
    this.controllerRefs();
    this.interval();
    this.duration(['spec', 'timeout']);
    this.duration(['spec', 'retryInterval']);
  }

  /** A `scheme://` other than docker://, which parseImageName would otherwise read as a (bad) docker reference. */
  unknownTransport(path: JsonPath, s: string): boolean {
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(s);
    if (m === null || m[1] === 'docker') return false;
    this.report(path, `unknown transport "${m[1] ?? ''}" (use docker://, oci: or a registry reference without transport)`);
    return true;
  }

  destination(): void {
    const path = ['spec', 'destination', 'image'];
    const s = this.str(path);
    if (s === undefined || this.unknownTransport(path, s)) return;
    let name;
    try {
      name = parseImageName(s);
    } catch (e) {
      this.report(path, errorMessage(e));
      return;
    }
    if (name.transport === 'oci') {
      if (name.image !== '' || name.sourceIndex !== undefined) {
        this.report(path, 'must be oci:DIR alone; the names in the layout come from spec.destination.tags');
      } else {
        this.ociTags();
      }
      return;
    }
    if (name.unknownDigest) {
      this.report(path, 'must be a repository without tag or digest');
      return;
    }
    let ref;
    try {
      ref = parseReference(s.startsWith('docker://') ? s.slice('docker://'.length) : s);
    } catch (e) {
      this.report(path, errorMessage(e));
      return;
    }
    if (ref.digest !== undefined) {
      this.report(path, `must not have a digest (@${ref.digest}): the list's digest is only known once it is pushed`);
    } else if (ref.tag !== undefined) {
      this.report(path, `must not have a tag (:${ref.tag}); list the tags in spec.destination.tags`);
    }
  }

  /** In an OCI layout the tags are org.opencontainers.image.ref.name values, whose grammar is not the tag grammar. */
  ociTags(): void {
    const tags = get(this.doc, ['spec', 'destination', 'tags']);
    if (!Array.isArray(tags)) return;
    tags.forEach((_, i) => {
      const path = ['spec', 'destination', 'tags', i];
      const tag = this.str(path);
      if (tag === undefined) return;
      try {
        parseImageName(`oci:dir:${tag}`);
      } catch {
        this.report(path, 'is not a valid name in an OCI layout: letters and digits separated by one of "-._:@+" or "--"');
      }
    });
  }

  sources(): void {
    const sources = get(this.doc, ['spec', 'sources']);
    if (!Array.isArray(sources)) return;
    sources.forEach((_, i) => {
      const base = ['spec', 'sources', i];
      const imagePath = base.concat('image');
      const image = this.str(imagePath);
      if (image !== undefined && !this.unknownTransport(imagePath, image)) {
        try {
          parseImageName(image, { dropTagIfDigested: true });
        } catch (e) {
          this.report(imagePath, errorMessage(e));
        }
      }
      if (get(this.doc, base.concat('platform')) !== undefined) this.platform(base.concat('platform'));
      this.platformList(base.concat('platforms'));
    });
  }

  /** A platform (string or mapping) normalised, or undefined after reporting why it is not one. */
  platform(path: JsonPath): Platform | undefined {
    if (this.flagged(path)) return undefined;
    const v = get(this.doc, path);
    try {
      let p: Platform;
      if (typeof v === 'string') {
        p = normalisePlatform(parsePlatform(v));
      } else {
        if (!isObject(v)) return undefined;
        p = { os: String(v.os), architecture: String(v.architecture) };
        if (typeof v.variant === 'string') p.variant = v.variant;
        if (typeof v.osVersion === 'string') p['os.version'] = v.osVersion;
        if (Array.isArray(v.osFeatures)) p['os.features'] = v.osFeatures.map(String);
        if (Array.isArray(v.features)) p.features = v.features.map(String);
        p = normalisePlatform(p);
      }
      // A value no image can carry matches nothing: an allowlist with it would filter every instance out.
      const bad = unknownPlatformPart(p);
      if (bad) {
        const where = typeof v === 'string' || get(this.doc, path.concat(bad.field)) === undefined ? path : path.concat(bad.field);
        this.report(where, bad.message);
        return undefined;
      }
      return p;
    } catch (e) {
      this.report(path, errorMessage(e));
      return undefined;
    }
  }

  /** Each entry of a platforms list, and entries that are one platform once aliases are normalised. */
  platformList(path: JsonPath): (Platform | undefined)[] | undefined {
    const list = get(this.doc, path);
    if (!Array.isArray(list)) return undefined;
    const seen = new Map<string, number>();
    return list.map((_, i) => {
      const p = this.platform(path.concat(i));
      if (p === undefined) return undefined;
      const key = platformKey(p);
      const earlier = seen.get(key);
      if (earlier !== undefined && !this.flagged(path.concat(i))) {
        this.report(path.concat(i), `is the same platform as [${earlier}] (${formatPlatform(p)})`);
        return undefined;
      }
      seen.set(key, i);
      return p;
    });
  }

  allowlist: Set<string> | null | undefined;

  platformAllowlist(): void {
    const path = ['spec', 'platforms'];
    if (get(this.doc, path) === undefined) {
      this.allowlist = null;
      return;
    }
    const list = this.platformList(path);
    // An allowlist with a bad entry leaves the conflict check without a reliable filter: it is skipped.
    if (list === undefined || list.some((p) => p === undefined) || this.flagged(path)) return;
    this.allowlist = new Set(list.map((p) => platformKey(p as Platform)));
  }

  // With onConflict: error, two sources must not yield one platform. Only sources that name their platform(s) can
  // be checked here: what a source without platform/platforms yields is known only once its manifest is read, so
  // those conflicts are found at reconcile time.
  conflicts(): void {
    if (this.str(['spec', 'onConflict']) !== 'error' || this.allowlist === undefined) return;
    const sources = get(this.doc, ['spec', 'sources']);
    if (!Array.isArray(sources)) return;
    const claimed = new Map<string, number>();
    sources.forEach((_, i) => {
      const base = ['spec', 'sources', i];
      const entries: [JsonPath, unknown][] = [];
      if (get(this.doc, base.concat('platform')) !== undefined) entries.push([base.concat('platform'), get(this.doc, base.concat('platform'))]);
      const list = get(this.doc, base.concat('platforms'));
      if (Array.isArray(list)) list.forEach((v, k) => entries.push([base.concat('platforms', k), v]));
      for (const [path] of entries) {
        if (this.flagged(path) || this.issues.some((x) => startsWith(x.path, path))) continue;
        const p = this.platformQuiet(path);
        if (p === undefined) continue;
        const key = platformKey(p);
        if (this.allowlist !== null && this.allowlist !== undefined && !this.allowlist.has(key)) continue;
        const earlier = claimed.get(key);
        if (earlier !== undefined && earlier !== i) {
          this.report(path, `${formatPlatform(p)} is also taken from spec.sources[${earlier}] (onConflict: error)`);
        } else {
          claimed.set(key, i);
        }
      }
    });
  }

  /** Like platform(), without reporting (the value was already checked). */
  platformQuiet(path: JsonPath): Platform | undefined {
    const before = this.issues.length;
    const p = this.platform(path);
    this.issues.length = before;
    return p;
  }

  compression(): void {
    const variantsPath = ['spec', 'compression', 'variants'];
    const variants = get(this.doc, variantsPath);
    if (!Array.isArray(variants) || this.flagged(variantsPath)) return;
    if (variants.length > 0 && this.str(['spec', 'format']) === 'docker') {
      this.report(variantsPath, 'needs format: oci (a Docker manifest list cannot hold compression variants)');
    }
    const levelPath = ['spec', 'compression', 'level'];
    const level = get(this.doc, levelPath);
    if (typeof level === 'number' && !this.flagged(levelPath) && level > 9 && variants.includes('gzip')) {
      this.report(levelPath, 'must be at most 9 when variants include gzip');
    }
  }

  signatures(): void {
    const idPath = ['spec', 'signatures', 'identity'];
    const identity = this.str(idPath);
    if (identity !== undefined && !this.flagged(idPath)) {
      try {
        const ref = parseReference(identity);
        if (ref.tag !== undefined || ref.digest !== undefined) this.report(idPath, 'must name a repository without tag or digest (each destination tag is added)');
      } catch (e) {
        if (!isPlaitError(e)) throw e;
        this.report(idPath, e.message);
      }
    }
    const signers = [get(this.doc, ['spec', 'signatures', 'sigstore']), get(this.doc, ['spec', 'signatures', 'gpg'])].some((a) => Array.isArray(a) && a.length > 0);
    const dest = this.str(['spec', 'destination', 'image']);
    if (signers && identity === undefined && dest?.startsWith('oci:') && !this.flagged(['spec', 'signatures'])) {
      this.report(['spec', 'signatures'], 'signing into an oci: destination needs identity: the repository the image will be served from');
    }
    const sigstore = get(this.doc, ['spec', 'signatures', 'sigstore']);
    if (Array.isArray(sigstore)) {
      sigstore.forEach((_, i) => {
        const base = ['spec', 'signatures', 'sigstore', i];
        this.keySource(base.concat('privateKey'));
        this.passphrase(base.concat('passphrase'));
      });
    }
    const gpg = get(this.doc, ['spec', 'signatures', 'gpg']);
    if (Array.isArray(gpg)) {
      gpg.forEach((_, i) => {
        const base = ['spec', 'signatures', 'gpg', i];
        this.keySource(base.concat('key'));
        this.passphrase(base.concat('passphrase'));
      });
    }
  }

  keySource(path: JsonPath): void {
    if (!isObject(get(this.doc, path)) || this.flagged(path)) return;
    this.cliSecretRef(path.concat('secretRef'), 'the CLI reads keys from a file');
    this.file(path.concat('file'));
  }

  passphrase(path: JsonPath): void {
    const v = get(this.doc, path);
    if (!isObject(v) || this.flagged(path)) return;
    this.cliSecretRef(path.concat('secretRef'), 'the CLI reads passphrases from env or file');
    this.file(path.concat('file'));
    const name = this.str(path.concat('env'));
    if (name !== undefined && this.opts.checkLocal !== false && (this.opts.env ?? process.env)[name] === undefined) {
      this.report(path.concat('env'), `environment variable ${name} is not set`);
    }
  }

  cliSecretRef(path: JsonPath, alternative: string): void {
    if (this.opts.context !== 'cli' || get(this.doc, path) === undefined || this.flagged(path)) return;
    this.report(path, `secretRef can only be read by the controller; ${alternative}`, this.positions.key(path));
  }

  file(path: JsonPath): void {
    const f = this.str(path);
    if (f === undefined || this.opts.checkLocal === false) return;
    let st;
    try {
      st = statSync(resolve(this.baseDir, f));
    } catch {
      const where = isAbsolute(f) ? '' : this.fromStdin ? ' (relative to the working directory)' : ' (relative to the spec file)';
      this.report(path, `file ${JSON.stringify(f)} does not exist${where}`);
      return;
    }
    if (!st.isFile()) this.report(path, `${JSON.stringify(f)} is not a file`);
  }

  secretRef(): void {
    const path = ['spec', 'secretRef'];
    if (this.opts.context !== 'cli' || get(this.doc, path) === undefined || this.flagged(path)) return;
    this.report(path, 'can only be read by the controller; the CLI takes registry credentials from its auth files (--authfile)', this.positions.key(path));
  }

  /** certSecretRef and caConfigMapRef name Kubernetes objects: only the controller can read them. */
  controllerRefs(): void {
    if (this.opts.context !== 'cli') return;
    for (const [field, kind] of [['certSecretRef', 'a Secret'], ['caConfigMapRef', 'a ConfigMap']] as const) {
      const path = ['spec', field];
      if (get(this.doc, path) === undefined || this.flagged(path)) continue;
      this.report(path, `names ${kind}, which only the controller can read; the CLI trusts CAs and client certificates from --cert-dir`, this.positions.key(path));
    }
  }

  /** A duration the schema's pattern passed, in milliseconds, or undefined after reporting why it is not one. */
  parsedDuration(path: JsonPath): number | undefined {
    const s = this.str(path);
    if (s === undefined) return undefined;
    try {
      return parseDuration(s);
    } catch (e) {
      this.report(path, errorMessage(e));
      return undefined;
    }
  }

  duration(path: JsonPath): void {
    const ms = this.parsedDuration(path);
    if (ms !== undefined && ms <= 0) this.report(path, 'must be longer than 0s');
  }

  interval(): void {
    const ms = this.parsedDuration(['spec', 'interval']);
    if (ms !== undefined && ms < MIN_INTERVAL_MS) this.report(['spec', 'interval'], 'must be at least 10s');
  }
}

// ---------------------------------------------------------------------------------------------------------------

function toProblem(spec: Pick<LoadedSpec, 'file'>, i: Issue): Problem {
  return new Problem(spec.file, i.at.line, i.at.col, formatPath(i.path), i.message);
}

/** apiVersion and kind first: a document of another kind is not checked against this schema at all. */
function identity(spec: LoadedSpec): Issue[] {
  const { doc, positions } = spec;
  if (!isObject(doc)) {
    return [{ path: [], at: positions.value([]), message: `must be a mapping (a ManifestList document), not ${describeValue(doc)}`, flag: [], keyword: 'type' }];
  }
  const out: Issue[] = [];
  const expect = (field: string, want: string): void => {
    const v = doc[field];
    if (v === want) return;
    const message = v === undefined ? `is required (${want})` : `must be ${want}, not ${JSON.stringify(v)}`;
    out.push({ path: [field], at: positions.value([field]), message, flag: [field], keyword: 'identity' });
  };
  expect('apiVersion', API_VERSION);
  expect('kind', KIND);
  return out;
}

function byPosition(a: Problem, b: Problem): number {
  return a.line - b.line || a.col - b.col || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** Every problem of one document (duplicate names across documents aside: see checkDuplicateNames). */
export function validateDocument(spec: LoadedSpec, opts: ValidateOptions): Problem[] {
  const first = identity(spec);
  if (first.length > 0) return first.map((i) => toProblem(spec, i));
  const fromSchema = schemaIssues(spec.doc, spec.positions);
  const checker = new Checker(spec.doc as Obj, spec.positions, fromSchema, opts, spec.baseDir, spec.file === STDIN_NAME);
  checker.run();
  const found = [...fromSchema, ...checker.issues].map((i) => toProblem(spec, i)).sort(byPosition);
  return found.length > 0 ? found : sizeProblems(spec);
}

/** The key a document's name must be unique under: its name (the CLI ignores namespaces), namespace/name in the controller. */
function nameKey(doc: unknown, context: Context): string | undefined {
  if (!isObject(doc) || doc.apiVersion !== API_VERSION || doc.kind !== KIND || !isObject(doc.metadata)) return undefined;
  const { name, namespace } = doc.metadata;
  if (typeof name !== 'string') return undefined;
  return context === 'controller' ? `${typeof namespace === 'string' ? namespace : ''}/${name}` : name;
}

/**
 * Documents that reuse a metadata.name seen earlier (in the order given): one problem at the later name, naming
 * where the first one is.
 */
export function checkDuplicateNames(specs: readonly LoadedSpec[], context: Context): { spec: LoadedSpec; problem: Problem }[] {
  const first = new Map<string, LoadedSpec>();
  const out: { spec: LoadedSpec; problem: Problem }[] = [];
  for (const spec of specs) {
    const key = nameKey(spec.doc, context);
    if (key === undefined) continue;
    const earlier = first.get(key);
    if (earlier === undefined) {
      first.set(key, spec);
      continue;
    }
    const at = spec.positions.value(['metadata', 'name']);
    const there = earlier.positions.value(['metadata', 'name']);
    const where = there.line > 0 ? `${earlier.file}:${there.line}:${there.col}` : earlier.file;
    const name = (spec.doc as { metadata: { name: string } }).metadata.name;
    out.push({ spec, problem: new Problem(spec.file, at.line, at.col, 'metadata.name', `duplicate name ${JSON.stringify(name)} (also at ${where})`) });
  }
  return out;
}

/** Validate a document that did not come from a file (a custom resource): problems carry `file` and no position. */
export function validateObject(doc: unknown, opts: ValidateOptions & { file: string; baseDir?: string }): Problem[] {
  return validateDocument({ file: opts.file, index: 0, doc, positions: NO_POSITIONS, baseDir: opts.baseDir ?? process.cwd() }, opts);
}
