import { describe, it, expect, inject, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { RegistryImage} from '../../src/transports/index.js';
import { openImage, closeAllClients, requestStats } from '../../src/transports/index.js';
import { PlaitError } from '../../src/errors.js';
import { digestOf, parseDigest } from '../../src/oci/digest.js';
import { serializeOCIIndex } from '../../src/oci/gojson.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { startFaultProxy } from '../lab/corrupting-proxy.js';
import { runPlait } from '../helpers/cli.js';

// The registry client's wire behaviour against the real registry, with a fault-injecting proxy where the registry
// itself cannot be made to misbehave.

const lab = inject('lab');
const peers = inject('peers');
const repoOf = (ref: string) => ref.slice(ref.indexOf('/') + 1).split(':')[0]!;
const fast = { plainHttp: true, retry: { baseDelayMs: 10, maxDelayMs: 50 } };
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

afterAll(() => closeAllClients());

describe('retries', () => {
  it('503 twice, then success: three attempts, one answer', async () => {
    let fails = 2;
    const proxy = await startFaultProxy(lab.plain.host, (m, p) => (m === 'GET' && p.includes('/manifests/') && fails-- > 0 ? { kind: 'status', status: 503 } : undefined));
    try {
      const img = openImage(`docker://${proxy.host}/${repoOf(peers.singles[0]!.ref)}:linux-amd64`, fast);
      expect((await img.getManifest()).digest).toBe(peers.singles[0]!.digest);
      expect(proxy.seen.filter((r) => r.path.includes('/manifests/')).length).toBe(3);
      // The client's own per-host counter agrees with what the proxy saw (ping + 3 GETs).
      expect(requestStats.get(proxy.host)?.requests).toBe(proxy.seen.length);
    } finally {
      await proxy.close();
    }
  });

  it('429 honours Retry-After', async () => {
    let fails = 1;
    const proxy = await startFaultProxy(lab.plain.host, (m, p) => (p.includes('/manifests/') && fails-- > 0 ? { kind: 'status', status: 429, headers: { 'retry-after': '1' } } : undefined));
    try {
      const img = openImage(`docker://${proxy.host}/${repoOf(peers.singles[0]!.ref)}:linux-amd64`, fast);
      const t = Date.now();
      expect((await img.resolve())?.digest).toBe(peers.singles[0]!.digest);
      expect(Date.now() - t).toBeGreaterThanOrEqual(900);
    } finally {
      await proxy.close();
    }
  });

  it('a reset connection is retried; a registry that stays down gives up after the attempt bound', async () => {
    let resets = 1;
    const proxy = await startFaultProxy(lab.plain.host, (_m, p) => {
      if (p.includes('/manifests/stays-down')) return { kind: 'status', status: 503 };
      return p.includes('/manifests/') && resets-- > 0 ? { kind: 'reset' } : undefined;
    });
    try {
      const img = openImage(`docker://${proxy.host}/${repoOf(peers.singles[0]!.ref)}:linux-amd64`, { ...fast, retry: { ...fast.retry, attempts: 4 } });
      expect((await img.getManifest()).digest).toBe(peers.singles[0]!.digest);
      const err = await img.getManifest('stays-down').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlaitError);
      expect((err as PlaitError).retryable).toBe(true);
      expect((err as PlaitError).message).toContain(proxy.host);
      expect(proxy.seen.filter((r) => r.path.includes('stays-down')).length).toBe(4);
    } finally {
      await proxy.close();
    }
  });

  it('bounds the requests in flight per host', async () => {
    const proxy = await startFaultProxy(lab.plain.host, () => undefined);
    try {
      const img = openImage(`docker://${proxy.host}/${repoOf(peers.singles[0]!.ref)}:linux-amd64`, { ...fast, maxConcurrency: 2 });
      await Promise.all(peers.singles.map((s) => img.resolve(s.digest)));
      await Promise.all(Array.from({ length: 12 }, () => img.hasBlob({ digest: parseDigest(peers.singles[0]!.digest), size: -1 })));
      expect(proxy.maxInFlight).toBe(2);
    } finally {
      await proxy.close();
    }
  });
});

describe('blobs', () => {
  it('follows a redirect to another host without sending Authorization there', async () => {
    const single = peers.singles[2]!;
    const repo = repoOf(single.ref);
    const m = JSON.parse((await openImage(`docker://${single.ref}`, fast).getManifest()).bytes.toString()) as { layers: Array<{ digest: string; size: number }> };
    const layer = m.layers[0]!;
    let port = 0;
    const proxy = await startFaultProxy(lab.plain.host, (method, path, headers) => {
      if (!path.includes('redirected=1') && !headers.authorization) return { kind: 'status', status: 401, headers: { 'www-authenticate': 'Basic realm="proxy"' } };
      if (method === 'GET' && path === `/v2/${repo}/blobs/${layer.digest}`) {
        return { kind: 'redirect', location: `http://localhost:${port}/v2/${repo}/blobs/${layer.digest}?redirected=1` };
      }
      return undefined;
    });
    port = Number(proxy.host.split(':')[1]);
    try {
      const img = openImage(`docker://${proxy.host}/${repo}:x`, { ...fast, creds: 'someone:secret' });
      const chunks: Buffer[] = [];
      for await (const c of await img.getBlob({ digest: parseDigest(layer.digest), size: layer.size })) chunks.push(c as Buffer);
      expect(sha(Buffer.concat(chunks))).toBe(layer.digest);
      const tries = proxy.seen.filter((r) => r.path === `/v2/${repo}/blobs/${layer.digest}`);
      // First without credentials (401 teaches the challenge), then with them.
      expect(tries).toHaveLength(2);
      const first = tries[1]!;
      const second = proxy.seen.find((r) => r.path.includes('redirected=1'))!;
      expect(first.headers.authorization).toMatch(/^Basic /);
      expect(second.headers.host).toBe(`localhost:${port}`);
      expect(second.headers.authorization).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  it('streams an upload of unknown digest with POST, PATCH, PUT and reports its digest', async () => {
    const img = openImage(`docker://${lab.plain.host}/client/chunked:v1`, fast) as RegistryImage;
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const r = await img.putBlob(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { size: data.length });
    expect(r.digest).toBe(sha(data));
    expect(r.size).toBe(data.length);
    expect(await img.hasBlob({ digest: r.digest, size: data.length })).toBe(true);
    expect(await img.hasBlob({ digest: r.digest, size: data.length + 1 })).toBe(false);
  });
});

describe('tags, referrers, delete', () => {
  it('lists tags, falls back to the sha256-<hex> tag for referrers, deletes by digest', async () => {
    const img = openImage(`docker://${lab.plain.host}/client/misc:v1`, fast) as RegistryImage;
    await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, fast), img);
    await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, fast), openImage(`docker://${lab.plain.host}/client/misc:v2`, fast));
    expect((await img.listTags()).sort()).toEqual(['v1', 'v2']);

    const subject = peers.singles[0]!.digest as `sha256:${string}`;
    expect(await img.referrers(subject)).toEqual({ index: undefined, api: false });
    const index = serializeOCIIndex({ schemaVersion: 2, manifests: [] });
    await img.putManifest(index, 'application/vnd.oci.image.index.v1+json', subject.replace(':', '-'));
    const refs = await img.referrers(subject);
    expect(refs.index?.digest).toBe(digestOf(index));
    expect(refs.api).toBe(false);

    await img.deleteManifest(subject);
    expect(await img.resolve(subject)).toBeUndefined();
    expect(await img.resolve('v1')).toBeUndefined();
  });
});

describe('TLS conventions', () => {
  it('finds the CA in $XDG_CONFIG_HOME/containers/certs.d/<host>/, and --tls-verify=false needs none', async () => {
    const home = await mkdtemp(join(tmpdir(), 'plait-certs-'));
    const dir = join(home, '.config', 'containers', 'certs.d', lab.tls.host);
    await mkdir(dir, { recursive: true });
    await copyFile(lab.caFile, join(dir, 'ca.crt'));
    const creds = `${lab.tls.user.name}:${lab.tls.user.password}`;
    const ref = `docker://${lab.tls.host}/lab/certs:v1`;
    await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, fast), openImage(ref, { certDir: lab.certDir, creds }));
    const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(home, 'run'), REGISTRY_AUTH_FILE: '' };
    const viaCertsD = await runPlait(['inspect', '--raw', '--creds', creds, ref], { env });
    expect(viaCertsD.stderr).toBe('');
    expect(sha(viaCertsD.stdout)).toBe(peers.singles[0]!.digest);
    const noVerify = await runPlait(['inspect', '--raw', '--tls-verify=false', '--creds', creds, ref], { env: { ...env, XDG_CONFIG_HOME: join(home, 'none') } });
    expect(sha(noVerify.stdout)).toBe(peers.singles[0]!.digest);
    expect(noVerify.stderr).not.toContain(lab.tls.user.password);
  });
});
