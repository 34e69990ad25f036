import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';

// The torture checker: walks a destination repository straight on the registry (never through the fault proxy) with
// its own HTTP and its own sha256, so that plait's code is not what judges plait. A tag that resolves must name a
// list whose every child manifest, config and layer exists and hashes to its digest; a signature that exists must be
// one openssl verifies with the public key, over a payload naming the digest it sits beside.

export interface RegistryAccess {
  /** http://host:port of the registry itself. */
  url: string;
  realm: string;
  service: string;
  user: string;
  password: string;
}

export interface CheckOptions {
  repository: string;
  tags: string[];
  publicKeyFile: string;
  /** After a clean apply: every tag, child and signature must be there (and the children as many as expected). */
  complete?: { children: number };
}

export interface CheckResult {
  violations: string[];
  /** Digest each tag resolved to (missing tags absent). */
  tags: Record<string, string>;
  blobsVerified: number;
  signaturesVerified: number;
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const SIG_ANNOTATION = 'dev.cosignproject.cosign/signature';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function token(a: RegistryAccess, repository: string): Promise<string> {
  const u = new URL(a.realm);
  u.searchParams.set('service', a.service);
  u.searchParams.set('scope', `repository:${repository}:pull`);
  const res = await fetch(u, { headers: { authorization: `Basic ${Buffer.from(`${a.user}:${a.password}`).toString('base64')}` } });
  if (res.status !== 200) throw new Error(`checker: token endpoint answered ${res.status}`);
  const body = await res.json() as { token: string };
  return body.token;
}

function openssl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` });
    });
  });
}

export async function checkDestination(a: RegistryAccess, o: CheckOptions): Promise<CheckResult> {
  const repo = o.repository;
  const bearer = `Bearer ${await token(a, repo)}`;
  const result: CheckResult = { violations: [], tags: {}, blobsVerified: 0, signaturesVerified: 0 };
  const bad = (s: string) => result.violations.push(`${repo}: ${s}`);
  const get = async (path: string, accept = ACCEPT) => {
    const res = await fetch(`${a.url}/v2/${repo}/${path}`, { headers: { authorization: bearer, accept } });
    return { status: res.status, type: (res.headers.get('content-type') ?? '').split(';')[0]!.trim(), digest: res.headers.get('docker-content-digest'), body: Buffer.from(await res.arrayBuffer()) };
  };
  const verifiedBlobs = new Set<string>();
  const blob = async (digest: string, size: number, what: string) => {
    if (verifiedBlobs.has(digest)) return;
    const r = await get(`blobs/${digest}`, '*/*');
    if (r.status !== 200) return bad(`${what} ${digest}: blob answered ${r.status}`);
    if (sha256(r.body) !== digest) return bad(`${what} ${digest}: blob bytes hash to ${sha256(r.body)}`);
    if (size >= 0 && r.body.length !== size) return bad(`${what} ${digest}: ${r.body.length} bytes, descriptor says ${size}`);
    verifiedBlobs.add(digest);
    result.blobsVerified++;
  };
  const manifest = async (ref: string, what: string) => {
    const r = await get(`manifests/${ref}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) {
      bad(`${what} ${ref}: manifest answered ${r.status}`);
      return undefined;
    }
    const d = sha256(r.body);
    if (ref.startsWith('sha256:') && d !== ref) bad(`${what} ${ref}: manifest bytes hash to ${d}`);
    if (r.digest && r.digest !== d) bad(`${what} ${ref}: Docker-Content-Digest ${r.digest} but the bytes hash to ${d}`);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      bad(`${what} ${ref}: manifest is not JSON`);
      return undefined;
    }
    return { digest: d, type: r.type, json, bytes: r.body };
  };

  const tmp = await mkdtemp(join(tmpdir(), 'plait-torture-check-'));
  try {
    const signed: string[] = [];
    for (const tag of o.tags) {
      const list = await manifest(tag, `tag ${tag}`);
      if (!list) {
        if (o.complete) bad(`tag ${tag} does not resolve`);
        continue;
      }
      result.tags[tag] = list.digest;
      if (!INDEX_TYPES.has(list.type)) {
        bad(`tag ${tag} names a ${list.type}, not a list`);
        continue;
      }
      const children = (list.json.manifests ?? []) as Array<{ digest: string; size: number; mediaType: string }>;
      if (o.complete && children.length !== o.complete.children) bad(`tag ${tag}: ${children.length} children, expected ${o.complete.children}`);
      if (!signed.includes(list.digest)) signed.push(list.digest);
      for (const c of children) {
        const child = await manifest(c.digest, `tag ${tag} child`);
        if (!child) {
          bad(`tag ${tag}: child ${c.digest} is missing`);
          continue;
        }
        if (child.bytes.length !== c.size) bad(`tag ${tag}: child ${c.digest} is ${child.bytes.length} bytes, the list says ${c.size}`);
        if (!signed.includes(c.digest)) signed.push(c.digest);
        const m = child.json as { config?: { digest: string; size: number }; layers?: Array<{ digest: string; size: number }> };
        if (!m.config || !Array.isArray(m.layers)) {
          bad(`tag ${tag}: child ${c.digest} is not an image manifest`);
          continue;
        }
        await blob(m.config.digest, m.config.size, `child ${c.digest} config`);
        for (const l of m.layers) await blob(l.digest, l.size, `child ${c.digest} layer`);
      }
    }
    for (const d of signed) {
      const att = await manifest(`${d.replace(':', '-')}.sig`, 'signature of');
      if (!att) {
        if (o.complete) bad(`${d} has no sigstore signature`);
        continue;
      }
      const layers = ((att.json.layers ?? []) as Array<{ digest: string; size: number; annotations?: Record<string, string> }>);
      if (layers.length === 0) bad(`signature of ${d} has no layers`);
      for (const l of layers) {
        const r = await get(`blobs/${l.digest}`, '*/*');
        if (r.status !== 200 || sha256(r.body) !== l.digest) {
          bad(`signature of ${d}: payload ${l.digest} missing or damaged (${r.status})`);
          continue;
        }
        let payload: { critical?: { image?: Record<string, string> } };
        try {
          payload = JSON.parse(r.body.toString('utf8')) as typeof payload;
        } catch {
          bad(`signature of ${d}: payload is not JSON`);
          continue;
        }
        if (payload.critical?.image?.['docker-manifest-digest'] !== d) bad(`signature of ${d}: payload signs ${payload.critical?.image?.['docker-manifest-digest']}`);
        const sig = l.annotations?.[SIG_ANNOTATION];
        if (!sig) {
          bad(`signature of ${d}: layer without a signature annotation`);
          continue;
        }
        const pf = join(tmp, 'payload');
        const sf = join(tmp, 'sig');
        await writeFile(pf, r.body);
        await writeFile(sf, Buffer.from(sig, 'base64'));
        const v = await openssl(['dgst', '-sha256', '-verify', o.publicKeyFile, '-signature', sf, pf]);
        if (v.code !== 0 || !v.out.includes('Verified OK')) bad(`signature of ${d}: openssl does not verify it (${v.out.trim().split('\n')[0]})`);
        else result.signaturesVerified++;
      }
    }
    if (o.complete) {
      const digests = new Set(Object.values(result.tags));
      if (digests.size > 1) bad(`tags name different lists: ${JSON.stringify(result.tags)}`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return result;
}
