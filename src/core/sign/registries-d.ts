import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { parseReference, referenceName } from '../../oci/reference.js';
import { signingIdentity } from './payload.js';

// registries.d as containers/image reads it (research/containers-semantics.md §6.5, §7): every `*.yaml` file of one
// directory, merged; a namespace (or default-docker) configured in two files is an error. A lookup walks the namespaces
// of an identity from the most precise to the least — the identity itself (host/repo:tag), the repository, its parent
// paths, the host[:port], wildcard domains (*.example.com, *.com, port dropped), then default-docker — and each
// setting is taken from the first namespace that sets it (an entry that leaves it unset does not stop the search).

export interface NamespaceConfig {
  lookaside?: string;
  lookasideStaging?: string;
  /** Older name of `lookaside`. */
  sigstore?: string;
  /** Older name of `lookaside-staging`. */
  sigstoreStaging?: string;
  useSigstoreAttachments?: boolean;
}

export interface RegistriesD {
  /** The directory read (it may not exist: then nothing is configured). */
  dir: string;
  docker: Map<string, NamespaceConfig>;
  defaultDocker?: NamespaceConfig;
}

export interface SignatureStorage {
  /** Where signatures are read from (lookaside → sigstore), or undefined. */
  lookaside?: string;
  /** Where signatures are written: lookaside-staging → sigstore-staging → lookaside → sigstore, or undefined. */
  lookasideStaging?: string;
  useSigstoreAttachments: boolean;
}

const KEYS: Record<string, keyof NamespaceConfig> = {
  lookaside: 'lookaside',
  'lookaside-staging': 'lookasideStaging',
  sigstore: 'sigstore',
  'sigstore-staging': 'sigstoreStaging',
  'use-sigstore-attachments': 'useSigstoreAttachments',
};

/** `$HOME/.config/containers/registries.d` when that directory exists, else `/etc/containers/registries.d`. */
export async function defaultRegistriesDir(home: string = homedir()): Promise<string> {
  const user = join(home, '.config', 'containers', 'registries.d');
  try {
    await stat(user);
    return user;
  } catch {
    return '/etc/containers/registries.d';
  }
}

/**
 * containers/image's built-in lookaside when nothing is configured: /var/lib/containers/sigstore for root,
 * $HOME/.local/share/containers/sigstore otherwise.
 */
export function builtinLookaside(euid: number = process.geteuid?.() ?? -1, home: string = homedir()): string {
  return euid === 0 ? 'file:///var/lib/containers/sigstore' : `file://${join(home, '.local', 'share', 'containers', 'sigstore')}`;
}

function invalid(file: string, reason: string): PlaitError {
  return new PlaitError(ErrorCodes.E_INVALID, `${file}: ${reason}`, { details: { file } });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseSection(v: unknown, file: string, path: string): NamespaceConfig {
  // An empty YAML mapping value (`host:` with nothing under it) is null: a section that sets nothing.
  if (v === null || v === undefined) return {};
  if (!isRecord(v)) throw invalid(file, `${path} must be a mapping`);
  const out: NamespaceConfig = {};
  for (const [k, val] of Object.entries(v)) {
    const field = KEYS[k];
    if (field === undefined) continue; // unknown keys are ignored, as Go's decoder does
    if (val === null) continue;
    if (field === 'useSigstoreAttachments') {
      if (typeof val !== 'boolean') throw invalid(file, `${path}.${k} must be true or false`);
      out.useSigstoreAttachments = val;
    } else {
      if (typeof val !== 'string') throw invalid(file, `${path}.${k} must be a string`);
      out[field] = val;
    }
  }
  return out;
}

/** One registries.d file's content. */
export function parseRegistriesDFile(text: string, file = 'registries.d file'): { docker: Map<string, NamespaceConfig>; defaultDocker?: NamespaceConfig } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw invalid(file, `not valid YAML: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
  const docker = new Map<string, NamespaceConfig>();
  if (doc === null || doc === undefined) return { docker };
  if (!isRecord(doc)) throw invalid(file, 'must be a YAML mapping');
  if (doc.docker !== undefined && doc.docker !== null) {
    if (!isRecord(doc.docker)) throw invalid(file, 'docker must be a mapping of namespaces');
    for (const [ns, section] of Object.entries(doc.docker)) docker.set(ns, parseSection(section, file, `docker.${ns}`));
  }
  const hasDefault = doc['default-docker'] !== undefined && doc['default-docker'] !== null;
  return { docker, ...(hasDefault && { defaultDocker: parseSection(doc['default-docker'], file, 'default-docker') }) };
}

/** Read and merge `dir` (default: defaultRegistriesDir()). A missing directory configures nothing. */
export async function loadRegistriesD(dir?: string): Promise<RegistriesD> {
  const d = dir ?? (await defaultRegistriesDir());
  const out: RegistriesD = { dir: d, docker: new Map() };
  let names: string[];
  try {
    names = (await readdir(d)).filter((n) => n.endsWith('.yaml')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw new PlaitError(ErrorCodes.E_INVALID, `registries.d ${d}: ${(e as Error).message}`, { cause: e });
  }
  const from = new Map<string, string>();
  let defaultFrom: string | undefined;
  for (const name of names) {
    const file = join(d, name);
    const parsed = parseRegistriesDFile(await readFile(file, 'utf8'), file);
    if (parsed.defaultDocker) {
      if (defaultFrom !== undefined) throw invalid(file, `"default-docker" is also defined in ${defaultFrom}`);
      out.defaultDocker = parsed.defaultDocker;
      defaultFrom = file;
    }
    for (const [ns, section] of parsed.docker) {
      const prev = from.get(ns);
      if (prev !== undefined) throw invalid(file, `"docker" namespace "${ns}" is also defined in ${prev}`);
      out.docker.set(ns, section);
      from.set(ns, file);
    }
  }
  return out;
}

/**
 * The namespaces consulted for `identity`, most precise first: the identity itself, the repository and its parents
 * down to host[:port], then the wildcard domains (port dropped). default-docker comes after all of these.
 */
export function namespacesFor(identity: string): string[] {
  const id = signingIdentity(identity);
  const res = [id];
  let name = referenceName(parseReference(id));
  for (;;) {
    res.push(name);
    const slash = name.lastIndexOf('/');
    if (slash < 0) break;
    name = name.slice(0, slash);
  }
  const colon = name.indexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.')) {
    name = name.slice(dot + 1);
    res.push(`*.${name}`);
  }
  return res;
}

function firstSet<T>(config: RegistriesD, identity: string, pick: (ns: NamespaceConfig) => T | undefined): T | undefined {
  for (const ns of namespacesFor(identity)) {
    const section = config.docker.get(ns);
    const v = section === undefined ? undefined : pick(section);
    if (v !== undefined) return v;
  }
  return config.defaultDocker === undefined ? undefined : pick(config.defaultDocker);
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

/** The signature storage settings for `identity` (host/repo:tag; name-only gets :latest). */
export function signatureStorageFor(config: RegistriesD, identity: string): SignatureStorage {
  const read = (ns: NamespaceConfig) => nonEmpty(ns.lookaside) ?? nonEmpty(ns.sigstore);
  const write = (ns: NamespaceConfig) => nonEmpty(ns.lookasideStaging) ?? nonEmpty(ns.sigstoreStaging) ?? read(ns);
  const lookaside = firstSet(config, identity, read);
  const lookasideStaging = firstSet(config, identity, write);
  return {
    ...(lookaside !== undefined && { lookaside }),
    ...(lookasideStaging !== undefined && { lookasideStaging }),
    useSigstoreAttachments: firstSet(config, identity, (ns) => ns.useSigstoreAttachments) ?? false,
  };
}
