import { existsSync } from 'node:fs';
import { mkdir, open, writeFile, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { freePort, supervise } from './proc.js';
import type { Supervised } from './proc.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** Where .ci/build-go-parts.sh links the Go-built parts (distribution v3, the peers). */
export function labBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PLAIT_LAB_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'plait-lab'), 'bin');
}

/** A Go-built lab part by name, or one line that says how to get it. */
export function requireGoPart(name: string): string {
  const bin = join(labBinDir(), name);
  if (!existsSync(bin)) throw new Error(`${bin} not found: build the lab's Go parts with "npm run setup" (or "bash .ci/build-go-parts.sh ${name}")`);
  return bin;
}

export const REGISTRY_V3 = 'registry-v3';

/** Fail with one line that says how to get the real registry, rather than a stack trace from spawn. */
export function requireRegistryBinary(): void {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(`${REGISTRY_BIN} not found: install Debian's registry with "apt-get install -y docker-registry" (or run "npm run lab:install")`);
  }
}

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; realm: string; path: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export interface RegistryOptions {
  name: string;
  dir: string;
  auth: RegistryAuth;
  tls?: { certificate: string; key: string };
  /** The registry program: Debian's distribution 2.8 (default) or the Go-built distribution v3. */
  flavour?: '2.8' | 'v3';
}

export interface RunningRegistry {
  name: string;
  /** host:port as a docker reference names it. */
  host: string;
  url: string;
  accessLog: string;
  dataDir: string;
  pid: number;
  proc: Supervised;
  stop(): Promise<void>;
}

// The configuration keys are distribution 2.8's (see the registry docs), which v3 reads unchanged; the access log goes
// to stdout in Apache combined format, one line per request, which is what tests and benches count.
function configYaml(o: RegistryOptions, port: number, dataDir: string): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    '  accesslog:',
    '    disabled: false',
    '  fields:',
    `    service: plait-lab-${o.name}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: plait-lab-not-secret',
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ];
  if (o.tls) lines.push('  tls:', `    certificate: ${o.tls.certificate}`, `    key: ${o.tls.key}`);
  if (o.auth.kind === 'htpasswd') lines.push('auth:', '  htpasswd:', `    realm: ${o.auth.realm}`, `    path: ${o.auth.path}`);
  if (o.auth.kind === 'token') {
    lines.push('auth:', '  token:', `    realm: ${o.auth.realm}`, `    service: ${o.auth.service}`, `    issuer: ${o.auth.issuer}`,
      `    rootcertbundle: ${o.auth.rootCertBundle}`);
  }
  return lines.join('\n') + '\n';
}

/** GET /v2/ once; resolves with the status code, or undefined while nothing listens yet. */
export function pingV2(url: string, ca?: Buffer): Promise<number | undefined> {
  return new Promise((resolve) => {
    const u = new URL('/v2/', url);
    const req = u.protocol === 'https:'
      ? request(u, { ca, timeout: 2000 })
      : httpRequest(u, { timeout: 2000 });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function startRegistry(o: RegistryOptions, ca?: Buffer): Promise<RunningRegistry> {
  let bin = REGISTRY_BIN;
  if (o.flavour === 'v3') bin = requireGoPart(REGISTRY_V3);
  else requireRegistryBinary();
  const dataDir = join(o.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const accessLog = join(o.dir, 'registry.log');
  let lastError = '';
  // A free port can be taken between our probe and the registry's bind; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const cfg = join(o.dir, 'config.yml');
    await writeFile(cfg, configYaml(o, port, dataDir));
    const log: FileHandle = await open(accessLog, 'a');
    const proc = supervise(bin, ['serve', cfg], log.fd);
    await log.close();
    const scheme = o.tls ? 'https' : 'http';
    const url = `${scheme}://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    let gone = false;
    void proc.exited.then(() => { gone = true; });
    while (Date.now() < deadline && !gone) {
      const status = await pingV2(url, ca);
      if (status === 200 || status === 401) {
        return {
          name: o.name, host: `127.0.0.1:${port}`, url, accessLog, dataDir, pid: proc.pid, proc,
          stop: () => proc.stop(),
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await proc.stop();
    lastError = (await readFile(accessLog, 'utf8')).split('\n').filter(Boolean).slice(-3).join(' | ');
  }
  throw new Error(`registry ${o.name} did not answer /v2/: ${lastError}`);
}
