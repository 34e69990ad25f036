import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

// A package registry on loopback made from a package-lock.json and npm's own cache: packuments list exactly the
// versions the lockfile pins (with their dependencies and integrity), and tarballs are served from the cache's
// content store by that integrity. `npm install` of the packed project then resolves its dependencies without any
// network but loopback, using what the project's `npm ci` already fetched.

interface LockEntry {
  name?: string;
  version?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, unknown>;
  bin?: Record<string, string> | string;
  engines?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  link?: boolean;
}

export interface LockRegistry {
  url: string;
  close(): Promise<void>;
}

/** The cacache content file holding the bytes of `integrity` (sha512-…). */
function contentPath(cache: string, integrity: string): string {
  const [algo, b64] = integrity.split(' ')[0]!.split('-', 2) as [string, string];
  const hex = Buffer.from(b64, 'base64').toString('hex');
  return join(cache, 'content-v2', algo, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

export async function startLockRegistry(lockfile: string, cache: string): Promise<LockRegistry> {
  const lock = JSON.parse(await readFile(lockfile, 'utf8')) as { packages: Record<string, LockEntry> };
  const versions = new Map<string, Map<string, LockEntry>>();
  for (const [path, e] of Object.entries(lock.packages)) {
    if (path === '' || e.link || e.version === undefined || e.integrity === undefined) continue;
    const name = e.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (!versions.has(name)) versions.set(name, new Map());
    versions.get(name)!.set(e.version, e);
  }
  // The registry's own naming, NAME/-/BASENAME-VERSION.tgz, which npm also asks for when it rewrites a lockfile's
  // registry URLs to the configured registry.
  const tarballPath = (name: string, v: string): string => `${name}/-/${name.slice(name.lastIndexOf('/') + 1)}-${v}.tgz`;
  const byTarball = new Map<string, string>();
  for (const [name, known] of versions) for (const [v, e] of known) byTarball.set(tarballPath(name, v), e.integrity!);
  let base = '';
  const server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(1));
      const tar = byTarball.get(path);
      if (tar !== undefined) {
        const file = contentPath(cache, tar);
        const st = await stat(file).catch(() => undefined);
        if (!st) return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size });
        createReadStream(file).pipe(res);
        return;
      }
      const known = versions.get(path);
      if (!known) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      const doc: Record<string, unknown> = { name: path, 'dist-tags': {}, versions: {} };
      let latest = '';
      for (const [v, e] of known) {
        const { integrity, name: _n, link: _l, ...meta } = e;
        (doc.versions as Record<string, unknown>)[v] = { name: path, version: v, ...meta, dist: { tarball: `${base}${tarballPath(path, v)}`, integrity } };
        latest = v;
      }
      doc['dist-tags'] = { latest };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url: base, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
