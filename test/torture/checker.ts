import { createHash, createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';

// The torture checker: walks a destination repository straight on the registry (never through the fault proxy) with
// its own HTTP and its own sha256, so that plait's code is not what judges plait. A tag that resolves must name a
// list whose every child manifest, config and layer exists and hashes to its digest; a signature that exists must be
// one that verifies with the public key (node:crypto, not plait's signer), over a payload naming the digest it sits
// beside.
//
// Content-addressed things are proven once per torture invocation: a blob or a manifest is fetched and hashed the
// first time its digest is met (streamed, never held whole for blobs), and after that a HEAD in the repository being
// checked proves it is present there with the right size — the registry shares one copy of a digest's bytes across
// repositories, so its bytes cannot have changed since. Tags (list tags, signature tags) are read in full every time.

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
  /** Children every list that a tag names must have (a list with fewer is incomplete). */
  children?: number;
  /** After a clean apply: every tag, child and signature must be there (and the children as many as expected). */
  complete?: { children: number };
}

/** What a violation is about; the summary counts them per kind. */
export type ViolationKind =
  | 'tag-incomplete' | 'bad-signature' | 'not-converged' | 'store-corrupt' | 'stale-lock' | 'temp-files'
  | 'unclear-failure' | 'hang' | 'lost-update';

export interface Violation { kind: ViolationKind; text: string }

export interface CheckResult {
  violations: Violation[];
  /** Digest each tag resolved to (missing tags absent). */
  tags: Record<string, string>;
  /** Platform of each child of each resolved tag, in list order ("amd64", "arm/v7", …). */
  platforms: Record<string, string[]>;
  /** Blobs and manifests fetched and hashed in this check (first sight of their digest). */
  blobsVerified: number;
  /** Already-proven digests confirmed present in this repository by HEAD. */
  presenceChecked: number;
  signaturesVerified: number;
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const SIG_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Requests one check has in flight at most. */
const PARALLEL = 6;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Manifest { digest: string; type: string; json: Record<string, unknown>; bytes: Buffer }

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export class Checker {
  private readonly a: RegistryAccess;
  private key?: KeyObject;
  private readonly publicKeyFile: string;
  /** Digests whose bytes were fetched and hashed (blobs and manifests alike). */
  private readonly proven = new Set<string>();
  /** Manifests proven by digest, kept for their JSON (small). */
  private readonly manifests = new Map<string, Manifest>();
  /** Signature manifests whose every layer verified, with the digest they sign. */
  private readonly signatures = new Map<string, string>();

  constructor(access: RegistryAccess, publicKeyFile: string) {
    this.a = access;
    this.publicKeyFile = publicKeyFile;
  }

  private async token(repository: string): Promise<string> {
    const u = new URL(this.a.realm);
    u.searchParams.set('service', this.a.service);
    u.searchParams.set('scope', `repository:${repository}:pull`);
    const res = await fetch(u, { headers: { authorization: `Basic ${Buffer.from(`${this.a.user}:${this.a.password}`).toString('base64')}` } });
    if (res.status !== 200) throw new Error(`checker: token endpoint answered ${res.status}`);
    return (await res.json() as { token: string }).token;
  }

  async check(o: CheckOptions): Promise<CheckResult> {
    this.key ??= createPublicKey(await readFile(this.publicKeyFile));
    const key = this.key;
    const repo = o.repository;
    const bearer = `Bearer ${await this.token(repo)}`;
    const result: CheckResult = { violations: [], tags: {}, platforms: {}, blobsVerified: 0, presenceChecked: 0, signaturesVerified: 0 };
    const bad = (kind: ViolationKind, s: string): void => {
      result.violations.push({ kind, text: `${repo}: ${s}` });
    };
    const url = (path: string) => `${this.a.url}/v2/${repo}/${path}`;
    const headers = (accept: string) => ({ authorization: bearer, accept });

    /** HEAD: present in this repository with this size? */
    const present = async (kind: 'blobs' | 'manifests', digest: string, size: number): Promise<string | undefined> => {
      const res = await fetch(url(`${kind}/${digest}`), { method: 'HEAD', headers: headers(kind === 'blobs' ? '*/*' : ACCEPT) });
      result.presenceChecked++;
      if (res.status !== 200) return `answered ${res.status}`;
      const len = Number(res.headers.get('content-length') ?? -1);
      if (size >= 0 && len !== size) return `is ${len} bytes, the descriptor says ${size}`;
      return undefined;
    };

    const blob = async (digest: string, size: number, what: string) => {
      if (this.proven.has(digest)) {
        const why = await present('blobs', digest, size);
        if (why) bad('tag-incomplete', `${what} ${digest}: ${why}`);
        return;
      }
      const res = await fetch(url(`blobs/${digest}`), { headers: headers('*/*') });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel();
        return bad('tag-incomplete', `${what} ${digest}: blob answered ${res.status}`);
      }
      const h = createHash('sha256');
      let n = 0;
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        h.update(chunk);
        n += chunk.length;
      }
      const got = `sha256:${h.digest('hex')}`;
      if (got !== digest) return bad('tag-incomplete', `${what} ${digest}: blob bytes hash to ${got}`);
      if (size >= 0 && n !== size) return bad('tag-incomplete', `${what} ${digest}: ${n} bytes, descriptor says ${size}`);
      this.proven.add(digest);
      result.blobsVerified++;
    };

    /** A manifest by tag (always read) or by digest (read once, then HEAD). undefined: 404 or reported. */
    const manifest = async (ref: string, what: string, size = -1): Promise<Manifest | undefined> => {
      const known = this.manifests.get(ref);
      if (known) {
        const why = await present('manifests', ref, size);
        if (why === 'answered 404') return undefined;
        if (why) bad('tag-incomplete', `${what} ${ref}: manifest ${why}`);
        return known;
      }
      const res = await fetch(url(`manifests/${ref}`), { headers: headers(ACCEPT) });
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status === 404) return undefined;
      if (res.status !== 200) {
        bad('tag-incomplete', `${what} ${ref}: manifest answered ${res.status}`);
        return undefined;
      }
      const d = sha256(body);
      const announced = res.headers.get('docker-content-digest');
      if (ref.startsWith('sha256:') && d !== ref) bad('tag-incomplete', `${what} ${ref}: manifest bytes hash to ${d}`);
      if (announced && announced !== d) bad('tag-incomplete', `${what} ${ref}: Docker-Content-Digest ${announced} but the bytes hash to ${d}`);
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        bad('tag-incomplete', `${what} ${ref}: manifest is not JSON`);
        return undefined;
      }
      const m = { digest: d, type: (res.headers.get('content-type') ?? '').split(';')[0]!.trim(), json, bytes: body };
      if (ref === d) {
        this.manifests.set(d, m);
        this.proven.add(d);
        result.blobsVerified++;
      }
      return m;
    };

    const signed: string[] = [];
    const child = async (tag: string, c: { digest: string; size: number }) => {
      const m = await manifest(c.digest, `tag ${tag} child`, c.size);
      if (!m) return bad('tag-incomplete', `tag ${tag}: child ${c.digest} is missing`);
      if (m.bytes.length !== c.size) bad('tag-incomplete', `tag ${tag}: child ${c.digest} is ${m.bytes.length} bytes, the list says ${c.size}`);
      const im = m.json as { config?: { digest: string; size: number }; layers?: Array<{ digest: string; size: number }> };
      if (!im.config || !Array.isArray(im.layers)) return bad('tag-incomplete', `tag ${tag}: child ${c.digest} is not an image manifest`);
      await blob(im.config.digest, im.config.size, `child ${c.digest} config`);
      for (const l of im.layers) await blob(l.digest, l.size, `child ${c.digest} layer`);
    };

    for (const tag of o.tags) {
      const list = await manifest(tag, `tag ${tag}`);
      if (!list) {
        if (o.complete) bad('not-converged', `tag ${tag} does not resolve`);
        continue;
      }
      result.tags[tag] = list.digest;
      if (!INDEX_TYPES.has(list.type)) {
        bad('tag-incomplete', `tag ${tag} names a ${list.type}, not a list`);
        continue;
      }
      const children = (list.json.manifests ?? []) as Array<{ digest: string; size: number; platform?: { architecture?: string; variant?: string } }>;
      result.platforms[tag] = children.map((c) => [c.platform?.architecture, c.platform?.variant].filter(Boolean).join('/'));
      if (o.children !== undefined && children.length !== o.children) bad('tag-incomplete', `tag ${tag}: names a list of ${children.length} children, not ${o.children}`);
      else if (o.complete && children.length !== o.complete.children) bad('not-converged', `tag ${tag}: ${children.length} children, expected ${o.complete.children}`);
      if (!signed.includes(list.digest)) signed.push(list.digest);
      for (const c of children) if (!signed.includes(c.digest)) signed.push(c.digest);
      await pool(children, PARALLEL, (c) => child(tag, c));
    }

    await pool(signed, PARALLEL, async (d) => {
      const att = await manifest(`${d.replace(':', '-')}.sig`, 'signature of');
      if (!att) {
        if (o.complete) bad('not-converged', `${d} has no sigstore signature`);
        return;
      }
      const layers = ((att.json.layers ?? []) as Array<{ digest: string; size: number; annotations?: Record<string, string> }>);
      if (this.signatures.get(att.digest) === d) {
        // Proven before: its payloads need only be present here.
        for (const l of layers) {
          const why = await present('blobs', l.digest, l.size);
          if (why) bad('bad-signature', `signature of ${d}: payload ${l.digest} ${why}`);
        }
        return;
      }
      if (layers.length === 0) return bad('bad-signature', `signature of ${d} has no layers`);
      let ok = true;
      for (const l of layers) {
        const res = await fetch(url(`blobs/${l.digest}`), { headers: headers('*/*') });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200 || sha256(body) !== l.digest) {
          bad('bad-signature', `signature of ${d}: payload ${l.digest} missing or damaged (${res.status})`);
          ok = false;
          continue;
        }
        let payload: { critical?: { image?: Record<string, string> } };
        try {
          payload = JSON.parse(body.toString('utf8')) as typeof payload;
        } catch {
          bad('bad-signature', `signature of ${d}: payload is not JSON`);
          ok = false;
          continue;
        }
        if (payload.critical?.image?.['docker-manifest-digest'] !== d) {
          bad('bad-signature', `signature of ${d}: payload signs ${payload.critical?.image?.['docker-manifest-digest']}`);
          ok = false;
        }
        const sig = l.annotations?.[SIG_ANNOTATION];
        if (!sig) {
          bad('bad-signature', `signature of ${d}: layer without a signature annotation`);
          ok = false;
          continue;
        }
        if (!verify('sha256', body, key, Buffer.from(sig, 'base64'))) {
          bad('bad-signature', `signature of ${d}: does not verify with the public key`);
          ok = false;
        } else result.signaturesVerified++;
      }
      if (ok) this.signatures.set(att.digest, d);
    });

    if (o.complete) {
      const digests = new Set(Object.values(result.tags));
      if (digests.size > 1) bad('not-converged', `tags name different lists: ${JSON.stringify(result.tags)}`);
    }
    return result;
  }
}
