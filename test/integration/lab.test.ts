import { describe, it, expect, inject, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { entriesSince, logMark } from '../lab/access-log.js';

// Self-test of the lab with a bare HTTP client (deliberately not plait's): each registry mode stores and serves a real
// blob and manifest, and the token registry enforces the scopes its issuer grants.

const lab = inject('lab');
const agent = new Agent({ connect: { ca: readFileSync(lab.caFile) } });
afterAll(() => agent.close());

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const basic = (u: { name: string; password: string }) => `Basic ${Buffer.from(`${u.name}:${u.password}`).toString('base64')}`;

interface Resp { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

async function call(method: Dispatcher.HttpMethod, url: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Resp> {
  const r = await request(url, { method, headers, body, dispatcher: agent });
  return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
}

async function pushAndPull(base: string, repo: string, auth: string | undefined) {
  const h = (extra: Record<string, string> = {}) => (auth ? { authorization: auth, ...extra } : extra);
  const blob = Buffer.from(`layer bytes for ${repo} ${Date.now()}`);
  const blobDigest = sha(blob);
  const post = await call('POST', `${base}/v2/${repo}/blobs/uploads/`, h());
  expect(post.status).toBe(202);
  const loc = new URL(post.headers.location as string, base);
  loc.searchParams.set('digest', blobDigest);
  const put = await call('PUT', loc.toString(), h({ 'content-type': 'application/octet-stream' }), blob);
  expect(put.status).toBe(201);
  expect(put.headers['docker-content-digest']).toBe(blobDigest);

  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const cpost = await call('POST', `${base}/v2/${repo}/blobs/uploads/`, h());
  const cloc = new URL(cpost.headers.location as string, base);
  cloc.searchParams.set('digest', sha(config));
  expect((await call('PUT', cloc.toString(), h({ 'content-type': 'application/octet-stream' }), config)).status).toBe(201);

  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: blobDigest, size: blob.length }],
  }));
  const mput = await call('PUT', `${base}/v2/${repo}/manifests/v1`, h({ 'content-type': 'application/vnd.oci.image.manifest.v1+json' }), manifest);
  expect(mput.status).toBe(201);
  expect(mput.headers['docker-content-digest']).toBe(sha(manifest));

  const mget = await call('GET', `${base}/v2/${repo}/manifests/v1`, h({ accept: 'application/vnd.oci.image.manifest.v1+json' }));
  expect(mget.status).toBe(200);
  expect(sha(mget.body)).toBe(sha(manifest));
  const bget = await call('GET', `${base}/v2/${repo}/blobs/${blobDigest}`, h());
  expect(bget.status).toBe(200);
  expect(sha(bget.body)).toBe(blobDigest);
}

async function bearer(user: { name: string; password: string } | undefined, scope: string): Promise<string> {
  const u = new URL(lab.token.realm);
  u.searchParams.set('service', lab.token.service);
  u.searchParams.set('scope', scope);
  const r = await call('GET', u.toString(), user ? { authorization: basic(user) } : {});
  expect(r.status).toBe(200);
  return `Bearer ${(JSON.parse(r.body.toString()) as { token: string }).token}`;
}

describe('test lab', () => {
  it('plain HTTP registry: anonymous push and pull with verified digests, counted in the access log', async () => {
    const mark = await logMark(lab.plain.accessLog);
    await pushAndPull(lab.plain.url, 'lab/plain', undefined);
    const entries = await entriesSince(lab.plain.accessLog, mark);
    expect(entries.map((e) => `${e.method} ${e.status}`)).toEqual([
      'POST 202', 'PUT 201', 'POST 202', 'PUT 201', 'PUT 201', 'GET 200', 'GET 200',
    ]);
  });

  it('TLS + htpasswd registry: lab CA required, basic auth required, push and pull work', async () => {
    expect(lab.tls.scheme).toBe('https');
    const anon = await call('GET', `${lab.tls.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toBe(`Basic realm="${lab.tls.realm}"`);
    const wrong = await call('GET', `${lab.tls.url}/v2/`, { authorization: basic({ name: lab.tls.user.name, password: 'wrong' }) });
    expect(wrong.status).toBe(401);
    await pushAndPull(lab.tls.url, 'lab/tls', basic(lab.tls.user));
    // Without the lab CA the certificate is not trusted.
    await expect(request(`${lab.tls.url}/v2/`)).rejects.toThrow(/certificate/i);
  });

  it('token registry: Bearer challenge, scoped tokens, a pull-only token cannot push', async () => {
    const anon = await call('GET', `${lab.token.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toBe(`Bearer realm="${lab.token.realm}",service="${lab.token.service}"`);

    const repo = 'lab/token';
    await pushAndPull(lab.token.url, repo, await bearer(lab.token.pusher, `repository:${repo}:pull,push`));

    const pullOnly = await bearer(lab.token.puller, `repository:${repo}:pull,push`);
    const tags = await call('GET', `${lab.token.url}/v2/${repo}/tags/list`, { authorization: pullOnly });
    expect(tags.status).toBe(200);
    const denied = await call('POST', `${lab.token.url}/v2/${repo}/blobs/uploads/`, { authorization: pullOnly });
    expect(denied.status).toBe(401);
    expect(String(denied.headers['www-authenticate'])).toContain('error="insufficient_scope"');

    // Wrong password: the issuer refuses, nothing is granted.
    const u = new URL(lab.token.realm);
    u.searchParams.set('service', lab.token.service);
    u.searchParams.set('scope', `repository:${repo}:pull`);
    expect((await call('GET', u.toString(), { authorization: basic({ name: 'pusher', password: 'nope' }) })).status).toBe(401);

    // Anonymous tokens pull only under the public prefix.
    const anonPublic = await bearer(undefined, `repository:${lab.token.anonymousPullPrefix}x:pull`);
    expect((await call('GET', `${lab.token.url}/v2/${lab.token.anonymousPullPrefix}x/tags/list`, { authorization: anonPublic })).status).toBe(404);
    const anonPrivate = await bearer(undefined, `repository:${repo}:pull`);
    expect((await call('GET', `${lab.token.url}/v2/${repo}/tags/list`, { authorization: anonPrivate })).status).toBe(401);
  });

  it('distribution v3: plain HTTP push and pull, counted in its access log; no OCI referrers API (404)', async () => {
    expect(lab.v3.scheme).toBe('http');
    const v2 = await call('GET', `${lab.v3.url}/v2/`);
    expect(v2.status).toBe(200);
    expect(String(v2.headers['docker-distribution-api-version'])).toBe('registry/2.0');
    const mark = await logMark(lab.v3.accessLog);
    await pushAndPull(lab.v3.url, 'lab/v3', undefined);
    const entries = await entriesSince(lab.v3.accessLog, mark);
    expect(entries.map((e) => `${e.method} ${e.status}`)).toEqual([
      'POST 202', 'PUT 201', 'POST 202', 'PUT 201', 'PUT 201', 'GET 200', 'GET 200',
    ]);
    const subject = `sha256:${'0'.repeat(64)}`;
    for (const url of [lab.v3.url, lab.plain.url]) {
      const r = await call('GET', `${url}/v2/lab/v3/referrers/${subject}`, { accept: 'application/vnd.oci.image.index.v1+json' });
      expect(r.status).toBe(404);
    }
  });
});
