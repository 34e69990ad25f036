import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PlaitError, ErrorCodes } from '../../errors.js';

// Where credentials come from, in the order containers/image (pkg/docker/config) looks, so that whatever a user set
// up for podman, skopeo or docker works unchanged:
//   1. explicit --creds user:pass
//   2. an explicit --authfile, or REGISTRY_AUTH_FILE — and then only that file, as containers/image does;
//   3. otherwise $XDG_RUNTIME_DIR/containers/auth.json, $XDG_CONFIG_HOME(~/.config)/containers/auth.json,
//      $DOCKER_CONFIG/config.json or ~/.docker/config.json.
// In each file: credHelpers[host], then auths entries from the most specific namespace (host/org/repo) up to the
// host, then credsStore.

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token (auth.json `identitytoken`), used instead of the password at the token endpoint. */
  identityToken?: string;
}

export interface CredentialOptions {
  /** user[:password] as given with --creds. */
  creds?: string;
  authfile?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string }
interface AuthFile { auths?: Record<string, AuthEntry>; credHelpers?: Record<string, string>; credsStore?: string }

export function parseCredsFlag(creds: string): Credentials {
  const i = creds.indexOf(':');
  // An empty password after the colon is allowed; a missing colon means "no password", which containers/image
  // would prompt for — plait never prompts, so it is an error.
  if (i < 0) throw new PlaitError(ErrorCodes.E_INVALID, '--creds must be USERNAME:PASSWORD');
  const username = creds.slice(0, i);
  if (username === '') throw new PlaitError(ErrorCodes.E_INVALID, '--creds: the username is empty');
  return { username, password: creds.slice(i + 1) };
}

/** docker.io is known under several historical names; all mean the same registry. */
export function normaliseAuthKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '');
  if (k.endsWith('/')) k = k.slice(0, -1);
  if (k.endsWith('/v1') || k.endsWith('/v2')) k = k.slice(0, -3);
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  if (k.startsWith('index.docker.io/') || k.startsWith('registry-1.docker.io/')) k = 'docker.io/' + k.slice(k.indexOf('/') + 1);
  return k;
}

export function authFilePaths(opts: CredentialOptions): string[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? homedir();
  const explicit = opts.authfile ?? env.REGISTRY_AUTH_FILE;
  if (explicit) return [explicit];
  const paths: string[] = [];
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  paths.push(join(env.XDG_RUNTIME_DIR ?? `/run/containers/${uid}`, 'containers', 'auth.json'));
  paths.push(join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers', 'auth.json'));
  paths.push(join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'));
  return paths;
}

async function readAuthFile(path: string, explicit: boolean): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return undefined;
    if (code === 'ENOENT') return undefined;
    throw new PlaitError(ErrorCodes.E_INVALID, `reading auth file ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as AuthFile;
  } catch {
    throw new PlaitError(ErrorCodes.E_INVALID, `auth file ${path} is not valid JSON`);
  }
}

function decodeEntry(entry: AuthEntry, key: string, path: string): Credentials | undefined {
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new PlaitError(ErrorCodes.E_INVALID, `auth file ${path}: the "auth" entry for ${key} is not base64(user:password)`);
    const c: Credentials = { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
    if (entry.identitytoken) c.identityToken = entry.identitytoken;
    return c;
  }
  if (entry.identitytoken) return { username: entry.username ?? '', password: '', identityToken: entry.identitytoken };
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

/** The namespaces to try for a repository, most specific first: host/a/b, host/a, host. */
export function namespaceKeys(host: string, repository?: string): string[] {
  const h = normaliseAuthKey(host);
  const keys: string[] = [];
  if (repository) {
    const parts = repository.split('/');
    for (let n = parts.length; n > 0; n--) keys.push(`${h}/${parts.slice(0, n).join('/')}`);
  }
  keys.push(h);
  return keys;
}

export async function runCredentialHelper(helper: string, host: string, env?: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const bin = `docker-credential-${helper}`;
  // node:child_process (and dgram, which it loads) only when a helper is configured: most runs never start one.
  const { execFile } = process.getBuiltinModule('node:child_process');
  return new Promise((resolve, reject) => {
    const child = execFile(bin, ['get'], { env: env ?? process.env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        // Helpers answer "credentials not found in native keychain" when they simply have nothing for this host.
        if (/not found/i.test(stdout + stderr)) return resolve(undefined);
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${bin} is not on PATH` : `${bin} failed: ${stderr.trim().split('\n')[0] ?? ''}`;
        return reject(new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED, `credential helper for ${host}: ${why}`));
      }
      try {
        const out = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!out.Secret) return resolve(undefined);
        // docker's convention: the username "<token>" marks the secret as an identity token.
        if (out.Username === '<token>') return resolve({ username: '', password: '', identityToken: out.Secret });
        resolve({ username: out.Username ?? '', password: out.Secret });
      } catch {
        reject(new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED, `credential helper ${bin} printed something that is not JSON`));
      }
    });
    child.stdin?.end(host);
  });
}

/**
 * Look up credentials for `host` (and optionally the repository, for namespace-scoped auth.json keys).
 * Returns undefined for anonymous access.
 */
export async function findCredentials(host: string, repository: string | undefined, opts: CredentialOptions = {}): Promise<Credentials | undefined> {
  if (opts.creds !== undefined) return parseCredsFlag(opts.creds);
  const env = opts.env ?? process.env;
  const explicit = (opts.authfile ?? env.REGISTRY_AUTH_FILE) !== undefined;
  const keys = namespaceKeys(host, repository);
  for (const path of authFilePaths(opts)) {
    const file = await readAuthFile(path, explicit);
    if (!file) continue;
    const helperFor = Object.entries(file.credHelpers ?? {}).find(([k]) => normaliseAuthKey(k) === keys[keys.length - 1]);
    if (helperFor) {
      const c = await runCredentialHelper(helperFor[1], host, env);
      if (c) return c;
    }
    const auths = new Map<string, [string, AuthEntry]>();
    for (const [k, v] of Object.entries(file.auths ?? {})) {
      const nk = normaliseAuthKey(k);
      if (!auths.has(nk)) auths.set(nk, [k, v]);
    }
    for (const key of keys) {
      const hit = auths.get(key);
      if (hit) {
        const c = decodeEntry(hit[1], hit[0], path);
        if (c) return c;
      }
    }
    if (file.credsStore) {
      const c = await runCredentialHelper(file.credsStore, host, env);
      if (c) return c;
    }
  }
  return undefined;
}
