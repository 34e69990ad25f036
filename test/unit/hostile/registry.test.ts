// Hostile registries: a small distribution-API server on 127.0.0.1 (the hostile party under test — a real registry
// cannot be made to lie) serves one repository per case and lies as test/fixtures/hostile/registry/*.json says:
// Docker-Content-Digest headers and bodies that are not the digest, Content-Types that lie, oversized and endless
// manifests, malformed JSON, lists of lists, wrong blob bytes, redirects to another host, in loops or to other schemes.
// Every case runs with credentials; a second server plays "another host" (reached as localhost, which is not the
// registry's 127.0.0.1) and records any Authorization it is sent: none may arrive. Each case: `plait inspect` and
// `plait apply` into an oci: destination, exit 1, one line naming the repository and what is wrong, nothing written.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, expectOneLine, nothingWritten, readJson, sandbox } from './helpers.js';
import type { Sandbox } from './helpers.js';
import { OCI_INDEX, OCI_MANIFEST, baseBlobs, expectNoImageWritten, expectOneFailure, sha256 } from './served.js';
import type { Blob } from './served.js';

interface Lie {
  manifest?: {
    dcd?: string; body?: string; contentType?: string; text?: string; padTo?: number; endless?: boolean;
    contentLength?: number; nestList?: boolean; layerDigest?: string; bigList?: number; redirect?: string;
  };
  child?: { body: string; of: string };
  blob?: Record<string, { bytes?: 'wrong' | 'extra' | 'short'; text?: string; redirect?: string }>;
}
interface RegistryCase { name: string; ref?: string; says?: string; works?: boolean; inspect?: 'works'; stage?: 'copy'; note?: string; lie: Lie }

const kinds = (await readdir(join(CORPUS, 'registry'))).filter((f) => f.endsWith('.json')).sort();
const groups = await Promise.all(kinds.map(async (k) => ({ kind: k.replace(/\.json$/, ''), cases: await readJson<RegistryCase[]>(`registry/${k}`) })));

const USER = 'hostile-user';
const PASSWORD = 'pw-Registry-4b1d-never-print';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

interface Served { c: RegistryCase; docs: Map<string, Blob>; tags: Map<string, Blob>; endlessSent: number }
const served = new Map<string, Served>();
const otherSaw: Array<{ url: string; authorization: string | undefined }> = [];

function serve(c: RegistryCase): Served {
  const docs = baseBlobs(c.name);
  const m = c.lie.manifest ?? {};
  const doc = (v: unknown) => {
    const bytes = Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
    return { bytes, digest: sha256(bytes), size: bytes.length };
  };
  const primaryName = c.ref === 'list' ? 'list' : 'manifest';
  let primary = docs.get(primaryName)!;
  const mf = docs.get('manifest')!;
  if (m.text !== undefined) primary = doc(m.text);
  if (m.padTo !== undefined) primary = doc(primary.bytes.toString() + ' '.repeat(m.padTo - primary.size));
  if (m.nestList) {
    const l = docs.get('list')!;
    primary = doc({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_INDEX, digest: l.digest, size: l.size, platform: { os: 'linux', architecture: 'amd64' } }] });
  }
  if (m.layerDigest !== undefined) {
    const j = JSON.parse(mf.bytes.toString()) as { layers: Array<{ digest: string }> };
    j.layers[0]!.digest = m.layerDigest;
    primary = doc(j);
  }
  if (m.bigList !== undefined) {
    primary = doc({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: Array.from({ length: m.bigList }, (_, i) => ({ mediaType: OCI_MANIFEST, digest: mf.digest, size: mf.size, platform: { os: 'linux', architecture: 'amd64', 'os.version': `1.${i}` } })) });
  }
  docs.set('primary', primary);
  const tags = new Map([[c.ref === 'list' ? 'list' : 'v1', primary]]);
  const s = { c, docs, tags, endlessSent: 0 };
  served.set(c.name, s);
  return s;
}

const mediaTypeOf = (b: Buffer) => {
  try {
    return (JSON.parse(b.toString()) as { mediaType?: string }).mediaType ?? 'application/octet-stream';
  } catch {
    return OCI_MANIFEST;
  }
};

function wrongBytes(b: Blob, how: string | undefined): Buffer {
  if (how === 'extra') return Buffer.concat([b.bytes, Buffer.from('and then some')]);
  if (how === 'short') return b.bytes.subarray(0, b.size - 3);
  return Buffer.alloc(b.size, 'x');
}

let otherPort = 0;
let port = 0;
function redirect(res: ServerResponse, how: string, self: string, path: string): void {
  const loc = how === 'other-host' ? `http://localhost:${otherPort}/ok${path}`
    : how === 'other-host-wrong' ? `http://localhost:${otherPort}/wrong${path}`
      : how === 'other-host-loop' ? `http://localhost:${otherPort}/loop${path}`
        : how === 'loop' ? self : how === 'none' ? undefined : how;
  res.writeHead(302, loc === undefined ? {} : { location: loc });
  res.end();
}

async function registry(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.headers.authorization !== BASIC) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="hostile"', 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    return;
  }
  const url = req.url ?? '';
  if (url === '/v2/') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
    return;
  }
  const hit = /^\/v2\/([^/]+)\/(manifests|blobs)\/([^/?]+)$/.exec(url);
  const s = hit ? served.get(hit[1]!) : undefined;
  if (!hit || !s) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"NAME_UNKNOWN","message":"no such repository"}]}');
    return;
  }
  const [, , kind, ref] = hit as unknown as [string, string, string, string];
  const head = req.method === 'HEAD';
  const lie = s.c.lie;
  if (kind === 'blobs') {
    const entry = [...s.docs.entries()].find(([, b]) => b.digest === ref);
    if (!entry) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}');
      return;
    }
    const [name, b] = entry;
    const how = lie.blob?.[name];
    if (how?.redirect) return redirect(res, how.redirect, url, `/${s.c.name}/${name}`);
    const bytes = how?.text !== undefined ? Buffer.from(how.text) : how?.bytes ? wrongBytes(b, how.bytes) : b.bytes;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'docker-content-digest': b.digest });
    res.end(head ? undefined : bytes);
    return;
  }
  const m = lie.manifest ?? {};
  // The primary document by tag or by its digest; with a `body` lie, the base document's digest serves the lie too.
  const base = s.docs.get(s.c.ref === 'list' ? 'list' : 'manifest')!.digest;
  const primary = s.tags.get(ref) ?? (ref === s.docs.get('primary')!.digest || (m.body && ref === base) ? s.docs.get('primary') : undefined);
  let body: Buffer | undefined;
  let isPrimary = false;
  if (primary) {
    isPrimary = true;
    if (m.redirect) return redirect(res, m.redirect, url, `/${s.c.name}/primary`);
    body = m.body ? s.docs.get(m.body)!.bytes : primary.bytes;
  } else {
    const doc = [...s.docs.entries()].find(([, b]) => b.digest === ref);
    if (doc) body = lie.child && s.docs.get(lie.child.of)!.digest === ref ? s.docs.get(lie.child.body)!.bytes : doc[1].bytes;
  }
  if (!body) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
    return;
  }
  const headers: Record<string, string> = {
    'content-type': (isPrimary && m.contentType) || mediaTypeOf(body),
    'docker-content-digest': isPrimary && m.dcd === 'wrong' ? sha256('not this body') : isPrimary && m.dcd && m.dcd !== 'body' ? m.dcd : sha256(body),
  };
  if (isPrimary && m.endless) {
    res.writeHead(200, headers);
    if (head) return void res.end();
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    res.write('{"schemaVersion":2,"pad":"');
    while (!res.destroyed && s.endlessSent < 1024 * 1024 * 1024) {
      s.endlessSent += chunk.length;
      if (!res.write(chunk)) await drainOrClose(res);
    }
    res.end();
    return;
  }
  headers['content-length'] = String(isPrimary && m.contentLength !== undefined ? m.contentLength : body.length);
  res.writeHead(200, headers);
  if (head) return void res.end();
  // A Content-Length far beyond what comes: the client must refuse on the header, not wait for the bytes.
  if (isPrimary && m.contentLength !== undefined) return void res.end(body.subarray(0, 10));
  res.end(body);
}

// Until the response drains or closes, whichever comes first; the other listener goes too, since the endless body
// waits hundreds of times on one response and a listener left per wait would pile up on it.
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

function other(req: IncomingMessage, res: ServerResponse): void {
  otherSaw.push({ url: req.url ?? '', authorization: req.headers.authorization });
  const hit = /^\/(ok|wrong|loop)\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
  const s = hit ? served.get(hit[2]!) : undefined;
  const b = s?.docs.get(hit![3]!);
  if (!hit || !b) {
    res.writeHead(404);
    res.end();
    return;
  }
  if (hit[1] === 'loop') {
    res.writeHead(302, { location: req.url });
    res.end();
    return;
  }
  const bytes = hit[1] === 'wrong' ? wrongBytes(b, 'wrong') : b.bytes;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) });
  res.end(bytes);
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => void Promise.resolve(handler(req, res)).catch(() => res.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0 };
}

let sb: Sandbox;
let reg: { server: Server; port: number };
let oth: { server: Server; port: number };
beforeAll(async () => {
  sb = await sandbox();
  reg = await listen(registry);
  oth = await listen(other);
  port = reg.port;
  otherPort = oth.port;
}, 120_000);
afterAll(() => {
  reg.server.closeAllConnections();
  reg.server.close();
  oth.server.closeAllConnections();
  oth.server.close();
});

const FLAGS = () => ['--plain-http', '--creds', `${USER}:${PASSWORD}`];
const spec = (name: string, source: string, platform?: string) => [
  'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', `metadata: {name: ${name}}`, 'spec:',
  `  destination: {image: "oci:out/${name}", tags: [v1]}`,
  `  sources: [{image: ${JSON.stringify(source)}${platform ? `, platforms: [${platform}]` : ''}}]`, '',
].join('\n');

for (const { kind, cases } of groups) {
  describe(`hostile registries: ${kind}`, () => {
    for (const c of cases) {
      it(c.name, async () => {
        const s = serve(c);
        const ref = c.ref === 'list' ? ':list' : c.ref === '@manifest' ? `@${s.docs.get('manifest')!.digest}` : ':v1';
        const source = `127.0.0.1:${port}/${c.name}${ref}`;
        const file = `${c.name}.registry.yaml`;
        await writeFile(join(sb.dir, file), spec(c.name, source, c.works && c.ref === 'list' ? 'linux/amd64' : undefined));
        const sawBefore = otherSaw.length;
        const run = async () => {
          const r = await sb.plait(['inspect', ...FLAGS(), `docker://${source}`]);
          const a = await sb.plait(['apply', ...FLAGS(), file]);
          if (c.works) {
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
            expect(a.code, a.stderr).toBe(0);
            return;
          }
          const names = new RegExp(c.name);
          const says = new RegExp(c.says ?? '', 'i');
          if (c.inspect === 'works') expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
          else {
            expectOneLine(r, names);
            expectOneLine(r, says);
          }
          expectOneFailure(a, c.name, names);
          expectOneFailure(a, c.name, says);
          for (const out of [r.stderr, a.stderr, r.stdout.toString(), a.stdout.toString()]) expect(out).not.toContain(PASSWORD);
        };
        if (c.works) await run();
        else if (c.stage === 'copy') await expectNoImageWritten(sb, join(sb.dir, 'out', c.name), run);
        else await nothingWritten(sb, run);
        // Whatever reached the other host carried no credentials.
        expect(otherSaw.slice(sawBefore).filter((o) => o.authorization !== undefined)).toEqual([]);
        if (c.lie.blob && Object.values(c.lie.blob).some((b) => b.redirect?.startsWith('other-host'))) expect(otherSaw.length).toBeGreaterThan(sawBefore);
        // An endless body is read up to the cap, not to its end.
        if (c.lie.manifest?.endless) expect(s.endlessSent).toBeLessThan(64 * 1024 * 1024);
      }, 120_000);
    }
  });
}
