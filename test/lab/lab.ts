import { mkdtemp, mkdir, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makePki, htpasswdLine } from './pki.js';
import { startRegistry } from './registry.js';
import type { RunningRegistry } from './registry.js';
import { startTokenIssuer } from './token-issuer.js';
import type { TokenIssuer, TokenUser } from './token-issuer.js';

// The test lab: the real Debian docker-registry (distribution 2.8) three times on free loopback ports — plain HTTP
// and anonymous, TLS with htpasswd basic auth, and token auth against our own issuer — and distribution v3 (Go-built)
// once, plain HTTP and anonymous; each with its own storage and access log. Everything it exposes to tests is plain data (it crosses into vitest workers through provide/inject).

export interface LabUser { name: string; password: string }

export interface LabRegistry {
  name: 'plain' | 'tls' | 'token' | 'v3';
  /** host:port as it appears in image references. */
  host: string;
  url: string;
  scheme: 'http' | 'https';
  accessLog: string;
  dataDir: string;
  pid: number;
}

export interface LabInfo {
  root: string;
  caFile: string;
  /** containers-style cert dir with the lab CA as ca.crt (for --cert-dir). */
  certDir: string;
  plain: LabRegistry;
  /** distribution v3.0.0, plain HTTP and anonymous. It has no OCI referrers API (404), like 2.8. */
  v3: LabRegistry;
  tls: LabRegistry & { user: LabUser; realm: string };
  token: LabRegistry & {
    realm: string;
    service: string;
    issuer: string;
    issuerLog: string;
    /** May pull and push (and delete) everywhere. */
    pusher: LabUser;
    /** May only pull. */
    puller: LabUser;
    /** The pusher's OAuth2 refresh token: what an auth.json `identitytoken` holds; the issuer takes it at POST /token. */
    identityToken: string;
    /** May pull and push; its password holds characters that URL- and base64-encoding change (` :@/+%&?=#`). */
    odd: LabUser;
    /** Repositories under this prefix may be pulled without credentials. */
    anonymousPullPrefix: string;
  };
}

export interface Lab {
  info: LabInfo;
  stop(): Promise<void>;
}

export interface LabOptions {
  /** Keep the lab's directory after stop (for debugging). */
  keep?: boolean;
  /** Which registries to start; all by default. */
  only?: Array<LabRegistry['name']>;
}

const secret = () => randomBytes(12).toString('base64url');

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const root = await mkdtemp(join(tmpdir(), 'plait-lab-'));
  const running: RunningRegistry[] = [];
  let issuer: TokenIssuer | undefined;
  const stopAll = async () => {
    await Promise.all(running.map((r) => r.stop()));
    await issuer?.close();
    if (!opts.keep) await rm(root, { recursive: true, force: true });
  };
  try {
    const pki = await makePki(join(root, 'pki'));
    const ca = await readFile(pki.caFile);
    const want = new Set(opts.only ?? ['plain', 'tls', 'token', 'v3']);

    const toInfo = (r: RunningRegistry, name: LabRegistry['name']): LabRegistry => ({
      name, host: r.host, url: r.url, scheme: r.url.startsWith('https') ? 'https' : 'http', accessLog: r.accessLog, dataDir: r.dataDir, pid: r.pid,
    });
    const placeholder = (name: LabRegistry['name']): LabRegistry => ({ name, host: '', url: '', scheme: 'http', accessLog: '', dataDir: '', pid: -1 });

    const start = async (name: LabRegistry['name'], fn: () => Promise<RunningRegistry>) => {
      if (!want.has(name)) return placeholder(name);
      const r = await fn();
      running.push(r);
      return toInfo(r, name);
    };

    const plain = await start('plain', () => startRegistry({ name: 'plain', dir: join(root, 'plain'), auth: { kind: 'none' } }));

    const v3 = await start('v3', () => startRegistry({ name: 'v3', dir: join(root, 'v3'), auth: { kind: 'none' }, flavour: 'v3' }));

    const tlsUser: LabUser = { name: 'plait', password: `pw-${secret()}` };
    const tlsRealm = 'plait-lab-realm';
    const tls = await start('tls', async () => {
      const dir = join(root, 'tls');
      await mkdir(dir, { recursive: true });
      const htpasswd = join(dir, 'htpasswd');
      await writeFile(htpasswd, (await htpasswdLine(tlsUser.name, tlsUser.password)) + '\n', { mode: 0o600 });
      return startRegistry({
        name: 'tls', dir, auth: { kind: 'htpasswd', realm: tlsRealm, path: htpasswd },
        tls: { certificate: pki.serverCert, key: pki.serverKey },
      }, ca);
    });

    const pusher: TokenUser = { name: 'pusher', password: `pw-${secret()}`, actions: ['pull', 'push', 'delete'], identityToken: `it-${secret()}` };
    const puller: TokenUser = { name: 'puller', password: `pw-${secret()}`, actions: ['pull'] };
    const odd: TokenUser = { name: 'odd', password: `pw ${secret()}:@/+%&?=#é`, actions: ['pull', 'push'] };
    const service = 'plait-lab-registry';
    const issuerName = 'plait-lab-issuer';
    const anonymousPullPrefix = 'public/';
    const issuerLog = join(root, 'token', 'issuer.log');
    let realm = '';
    const token = await start('token', async () => {
      const dir = join(root, 'token');
      await mkdir(dir, { recursive: true });
      await writeFile(issuerLog, '');
      issuer = await startTokenIssuer({
        service, issuer: issuerName, keyFile: pki.tokenKey, certFile: pki.tokenCert, users: [pusher, puller, odd],
        anonymousPullPrefix, logFile: issuerLog,
      });
      realm = issuer.realm;
      return startRegistry({
        name: 'token', dir, auth: { kind: 'token', realm, service, issuer: issuerName, rootCertBundle: pki.tokenCert },
      });
    });

    const info: LabInfo = {
      root,
      caFile: pki.caFile,
      certDir: pki.certDir,
      plain,
      v3,
      tls: { ...tls, user: tlsUser, realm: tlsRealm },
      token: {
        ...token, realm, service, issuer: issuerName, issuerLog,
        pusher: { name: pusher.name, password: pusher.password },
        puller: { name: puller.name, password: puller.password },
        identityToken: pusher.identityToken!,
        odd: { name: odd.name, password: odd.password },
        anonymousPullPrefix,
      },
    };
    return { info, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
