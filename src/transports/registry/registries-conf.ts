import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ErrorCodes, PlaitError } from '../../errors.js';

// registries.conf (version 2, TOML) as podman reads it: the main file — $CONTAINERS_REGISTRIES_CONF, else
// ~/.config/containers/registries.conf when it exists, else /etc/containers/registries.conf — then the drop-ins
// (*.conf, in name order) of /etc/containers/registries.conf.d and ~/.config/containers/registries.conf.d, each
// overriding what it sets: [[registry]] tables by prefix, the other keys by name. What plait honours:
//
//   [[registry]] prefix (default: location; `*.example.com` wildcards), location (where the prefix is rewritten to),
//   insecure (plain HTTP allowed, TLS not verified), blocked (refused before any request);
//   unqualified-search-registries and [aliases] for short names (`busybox` with no registry);
//   [[registry.mirror]] tables (location, insecure, pull-from-mirror) and mirror-by-digest-only, for reading sources
//   only: pullSourcesFor lists the mirrors that apply to a reference, then the primary location, as containers/image's
//   PullSourcesFromReference does; a destination (a push) is always the primary location.
//
// Version-1 tables ([registries.search] etc.) are refused with a message, as containers/image refuses mixing them.

export interface Mirror {
  location: string;
  insecure: boolean;
  pullFromMirror: 'all' | 'digest-only' | 'tag-only';
}

export interface RegistryRule {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: Mirror[];
  /** The file that set this rule, for messages. */
  file: string;
}

export interface RegistriesConf {
  registries: RegistryRule[];
  unqualifiedSearch: string[];
  aliases: Record<string, string>;
  shortNameMode?: 'enforcing' | 'permissive' | 'disabled';
  /** The files read, in order. */
  files: string[];
}

export interface Endpoint {
  /** The reference as it is to be reached: host/path[:tag|@digest]. */
  ref: string;
  insecure: boolean;
}

const EMPTY: RegistriesConf = { registries: [], unqualifiedSearch: [], aliases: {}, files: [] };

function confError(file: string, message: string): PlaitError {
  return new PlaitError(ErrorCodes.E_INVALID, `${file}: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bool(file: string, where: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw confError(file, `${where} must be true or false`);
  return v;
}

function str(file: string, where: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw confError(file, `${where} must be a string`);
  return v;
}

function strings(file: string, where: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw confError(file, `${where} must be an array of strings`);
  return v as string[];
}

const stripScheme = (s: string) => s.replace(/^https?:\/\//, '').replace(/\/+$/, '');

function parseRule(file: string, i: number, t: unknown): RegistryRule {
  const where = `[[registry]] #${i + 1}`;
  if (!isRecord(t)) throw confError(file, `${where} is not a table`);
  const location = stripScheme(str(file, `${where} location`, t.location) ?? '');
  const prefix = stripScheme(str(file, `${where} prefix`, t.prefix) ?? location);
  if (prefix === '') throw confError(file, `${where}: needs a location or a prefix`);
  if (prefix.startsWith('*.') && location !== '' && location !== prefix) {
    // containers/image: a wildcard prefix cannot be rewritten, there is no single host to rewrite it from.
    throw confError(file, `${where}: a wildcard prefix (${prefix}) cannot have a location`);
  }
  const digestOnly = bool(file, `${where} mirror-by-digest-only`, t['mirror-by-digest-only']);
  const mirrors = (t.mirror === undefined ? [] : Array.isArray(t.mirror) ? t.mirror : [t.mirror]).map((m: unknown, j): Mirror => {
    const mw = `${where} mirror #${j + 1}`;
    if (!isRecord(m)) throw confError(file, `${mw} is not a table`);
    const loc = stripScheme(str(file, `${mw} location`, m.location) ?? '');
    if (loc === '') throw confError(file, `${mw} needs a location`);
    const pfm = str(file, `${mw} pull-from-mirror`, m['pull-from-mirror']) ?? 'all';
    if (pfm !== 'all' && pfm !== 'digest-only' && pfm !== 'tag-only') throw confError(file, `${mw} pull-from-mirror must be all, digest-only or tag-only`);
    if (digestOnly && pfm !== 'all') throw confError(file, `${mw}: pull-from-mirror cannot be combined with mirror-by-digest-only`);
    return { location: loc, insecure: bool(file, `${mw} insecure`, m.insecure), pullFromMirror: digestOnly ? 'digest-only' : pfm };
  });
  return {
    prefix, location: location === '' ? prefix : location,
    insecure: bool(file, `${where} insecure`, t.insecure), blocked: bool(file, `${where} blocked`, t.blocked), mirrors, file,
  };
}

/** Merge one file's document into `conf` (drop-ins override what they set). */
function mergeFile(conf: RegistriesConf, file: string, text: string): void {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (e) {
    const at = e as { line?: unknown; column?: unknown; message: string };
    const where = typeof at.line === 'number' && typeof at.column === 'number' ? `${file}:${at.line}:${at.column}` : file;
    throw confError(where, `not valid TOML: ${at.message.split('\n')[0] ?? ''}`);
  }
  if ('registries' in doc) {
    throw confError(file, 'version 1 tables ([registries.search], [registries.insecure], [registries.block]) are not supported; use [[registry]] entries and unqualified-search-registries');
  }
  if (doc['unqualified-search-registries'] !== undefined) {
    conf.unqualifiedSearch = strings(file, 'unqualified-search-registries', doc['unqualified-search-registries']).map(stripScheme);
  }
  const mode = str(file, 'short-name-mode', doc['short-name-mode']);
  if (mode !== undefined) {
    if (mode !== 'enforcing' && mode !== 'permissive' && mode !== 'disabled') throw confError(file, 'short-name-mode must be enforcing, permissive or disabled');
    conf.shortNameMode = mode;
  }
  if (doc.aliases !== undefined) {
    if (!isRecord(doc.aliases)) throw confError(file, '[aliases] is not a table');
    for (const [k, v] of Object.entries(doc.aliases)) {
      const target = str(file, `aliases.${k}`, v);
      if (target !== undefined) conf.aliases[k] = target;
    }
  }
  if (doc.registry !== undefined) {
    if (!Array.isArray(doc.registry)) throw confError(file, 'registry must be an array of tables ([[registry]])');
    for (const [i, t] of doc.registry.entries()) {
      const rule = parseRule(file, i, t);
      const at = conf.registries.findIndex((r) => r.prefix === rule.prefix);
      if (at >= 0) {
        if (conf.registries[at]!.file === file) throw confError(file, `two [[registry]] entries with prefix ${rule.prefix}`);
        conf.registries[at] = rule;
      } else {
        conf.registries.push(rule);
      }
    }
  }
  conf.files.push(file);
}

function dropIns(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.conf')).sort().map((f) => join(dir, f));
}

/** The files podman would read, in order. */
export function registriesConfFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME ?? homedir();
  const user = join(home, '.config', 'containers', 'registries.conf');
  const main = env.CONTAINERS_REGISTRIES_CONF || (existsSync(user) ? user : '/etc/containers/registries.conf');
  return [main, ...dropIns('/etc/containers/registries.conf.d'), ...dropIns(join(home, '.config', 'containers', 'registries.conf.d'))];
}

export function loadRegistriesConf(env: NodeJS.ProcessEnv = process.env): RegistriesConf {
  const conf: RegistriesConf = { registries: [], unqualifiedSearch: [], aliases: {}, files: [] };
  const files = registriesConfFiles(env);
  for (const [i, file] of files.entries()) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      // A missing default main file is normal; a named one ($CONTAINERS_REGISTRIES_CONF) must exist.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !(i === 0 && env.CONTAINERS_REGISTRIES_CONF)) continue;
      throw confError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    mergeFile(conf, file, text);
  }
  return conf;
}

let cached: { key: string; conf: RegistriesConf } | undefined;

/** The configuration for this process's environment, read once (every command reads it before its first request). */
export function registriesConf(env: NodeJS.ProcessEnv = process.env): RegistriesConf {
  const key = `${env.CONTAINERS_REGISTRIES_CONF ?? ''}\0${env.HOME ?? ''}`;
  if (cached?.key !== key) cached = { key, conf: loadRegistriesConf(env) };
  return cached.conf;
}

export const noRegistriesConf = (): RegistriesConf => EMPTY;

/** Whether `prefix` covers `ref` (host/path[:tag|@digest]): whole components only, `*.` wildcards on the host. */
function covers(prefix: string, ref: string): boolean {
  if (prefix.startsWith('*.')) {
    const host = ref.split('/')[0]!.replace(/:\d+$/, '');
    return host.endsWith(prefix.slice(1));
  }
  if (!ref.startsWith(prefix)) return false;
  const next = ref.charAt(prefix.length);
  return next === '' || next === '/' || next === ':' || next === '@';
}

/** The rule with the longest matching prefix (exact prefixes before wildcards), as containers/image picks it. */
export function findRule(conf: RegistriesConf, ref: string): RegistryRule | undefined {
  let best: RegistryRule | undefined;
  for (const r of conf.registries) {
    if (!covers(r.prefix, ref)) continue;
    const wild = r.prefix.startsWith('*.');
    const bestWild = best?.prefix.startsWith('*.') ?? true;
    if (!best || (bestWild && !wild) || (wild === bestWild && r.prefix.length > best.prefix.length)) best = r;
  }
  return best;
}

function rewrite(ref: string, prefix: string, location: string): string {
  if (!prefix.startsWith('*.')) return location + ref.slice(prefix.length);
  // A wildcard matches the host: a mirror's location takes the host's place; the primary has none and keeps it.
  return location === prefix ? ref : location + ref.slice(ref.split('/')[0]!.length);
}

/**
 * Where `ref` (a fully-qualified host/path[:tag|@digest]) is reached: its rule's location (the prefix rewritten) and
 * whether that registry is insecure. A blocked rule refuses it here, before any request.
 */
export function endpointFor(conf: RegistriesConf, ref: string): Endpoint {
  const rule = findRule(conf, ref);
  if (!rule) return { ref, insecure: false };
  if (rule.blocked) {
    throw new PlaitError(ErrorCodes.E_REGISTRY_DENIED, `${ref}: registry ${rule.prefix} is blocked in ${rule.file}`);
  }
  return { ref: rewrite(ref, rule.prefix, rule.location), insecure: rule.insecure };
}

/** One place a source may be read from: a mirror, or (last) the primary location. */
export interface PullSource extends Endpoint {
  mirror: boolean;
}

/**
 * Where a source reference may be read from, in the order to try them: the mirrors that apply to it — all of them,
 * or with mirror-by-digest-only (pull-from-mirror = digest-only) only for a reference with a digest, with tag-only
 * only for one without — each with its own `insecure`, then the primary location. A blocked rule refuses it here.
 */
export function pullSourcesFor(conf: RegistriesConf, ref: string): PullSource[] {
  const primary: PullSource = { ...endpointFor(conf, ref), mirror: false };
  const rule = findRule(conf, ref);
  if (!rule || rule.mirrors.length === 0) return [primary];
  const digested = ref.includes('@');
  const mirrors = rule.mirrors
    .filter((m) => m.pullFromMirror === 'all' || (m.pullFromMirror === 'digest-only') === digested)
    .map((m): PullSource => ({ ref: rewrite(ref, rule.prefix, m.location), insecure: m.insecure, mirror: true }));
  return [...mirrors, primary];
}

/** A reference written without a registry (`busybox`, `library/busybox:1`), which podman resolves as a short name. */
export function isShortName(name: string): boolean {
  const slash = name.indexOf('/');
  if (slash < 0) return true;
  const first = name.slice(0, slash);
  return !(first.includes('.') || first.includes(':') || first === 'localhost');
}

/**
 * Resolve a short name as podman does without a terminal: an [aliases] entry wins; otherwise, when
 * unqualified-search-registries names registries, one registry is used and several are refused (the order would
 * decide which image is pulled); with none configured the name stays docker.io's. In a spec (`strict`) only an alias
 * is accepted: a declarative document must name one image, not a search.
 */
export function resolveShortName(conf: RegistriesConf, name: string, strict: boolean): string {
  if (!isShortName(name)) return name;
  const m = /^([^:@]+)((?::[^@]*)?(?:@.*)?)$/.exec(name);
  const repo = m?.[1] ?? name;
  const rest = m?.[2] ?? '';
  const alias = conf.aliases[repo];
  if (alias !== undefined) return `${alias}${rest}`;
  if (conf.shortNameMode === 'disabled' || conf.unqualifiedSearch.length === 0) return name;
  if (strict) {
    throw new PlaitError(ErrorCodes.E_REFERENCE_INVALID,
      `${name}: a short name in a spec would be searched for in unqualified-search-registries (${conf.unqualifiedSearch.join(', ')}); write the fully-qualified reference (or add an [aliases] entry)`);
  }
  if (conf.unqualifiedSearch.length > 1) {
    throw new PlaitError(ErrorCodes.E_REFERENCE_INVALID,
      `${name}: short name is ambiguous: unqualified-search-registries names ${conf.unqualifiedSearch.join(', ')}; write the fully-qualified reference`);
  }
  return `${conf.unqualifiedSearch[0]!}/${name}`;
}
