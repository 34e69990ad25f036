import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PlaitError, ErrorCodes } from '../../errors.js';

// TLS the way containers/image sets it up for a registry host: the system roots plus every `*.crt` found in the
// host's certs.d directory (or only --cert-dir when given), and a client certificate from a `*.cert` + `*.key` pair.

export interface TlsFiles {
  ca: string[];
  /** NODE_EXTRA_CA_CERTS: Node adds it to its default roots only, so it would be lost once we pass `ca` ourselves. */
  extraRoots?: string[];
  cert?: string;
  key?: string;
}

export function certDirsFor(host: string, certDir?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (certDir) return [certDir];
  const home = env.HOME ?? homedir();
  return [
    join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers', 'certs.d', host),
    join('/etc/containers/certs.d', host),
    join('/etc/docker/certs.d', host),
  ];
}

export async function loadTlsFiles(host: string, certDir?: string, env?: NodeJS.ProcessEnv): Promise<TlsFiles> {
  const out: TlsFiles = { ca: [] };
  for (const dir of certDirsFor(host, certDir, env)) {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !certDir) continue;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new PlaitError(ErrorCodes.E_INVALID, `--cert-dir ${dir} does not exist`);
      }
      throw new PlaitError(ErrorCodes.E_TLS, `reading ${dir}: ${(e as Error).message}`);
    }
    for (const n of names) {
      if (n.endsWith('.crt')) out.ca.push(await readFile(join(dir, n), 'utf8'));
      if (n.endsWith('.cert')) {
        const keyName = n.slice(0, -'.cert'.length) + '.key';
        if (!names.includes(keyName)) throw new PlaitError(ErrorCodes.E_TLS, `missing key ${keyName} for client certificate ${join(dir, n)}`);
        out.cert = await readFile(join(dir, n), 'utf8');
        out.key = await readFile(join(dir, keyName), 'utf8');
      }
      if (n.endsWith('.key') && !names.includes(n.slice(0, -'.key'.length) + '.cert')) {
        throw new PlaitError(ErrorCodes.E_TLS, `missing client certificate for key ${join(dir, n)}`);
      }
    }
    // containers/image stops at the first directory that exists.
    if (names.length > 0) break;
  }
  // Needed only beside CAs of our own (see connectOptions); without them Node's default roots already hold it.
  const extra = (env ?? process.env).NODE_EXTRA_CA_CERTS;
  if (extra && out.ca.length > 0) {
    try {
      out.extraRoots = [await readFile(extra, 'utf8')];
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; do the same by ignoring it.
    }
  }
  return out;
}

/**
 * undici `connect` options: extra CAs are added to, not instead of, the system roots. node:tls is loaded only then
 * (undici loads it at a first https connection): a run that speaks plain HTTP, or TLS with the default roots, does
 * not set it up at start (~1.5 MiB of a no-op's peak RSS on Node 24).
 */
export function connectOptions(files: TlsFiles, verify: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = { rejectUnauthorized: verify };
  if (files.ca.length > 0) o.ca = [...process.getBuiltinModule('node:tls').rootCertificates, ...files.extraRoots ?? [], ...files.ca];
  if (files.cert && files.key) {
    o.cert = files.cert;
    o.key = files.key;
  }
  return o;
}

