import { pipeline, Readable } from 'node:stream';
import { request } from '../http.js';
import { PlaitError, ErrorCodes, isPlaitError } from '../../errors.js';
import { digestOf, parseDigest, isDigest } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import { ALL_MANIFEST_TYPES, normaliseMediaType } from '../../oci/mediatype.js';
import { guessMediaType, MAX_MANIFEST_BYTES } from '../../oci/manifest.js';
import type {
  ImageSource, ImageDestination, ManifestBlob, BlobDescriptor, ResolvedManifest, BlobLocation, PutBlobResult,
} from '../types.js';
import { VerifyingStream, verified } from '../verify.js';
import { clientFor, header, describeNetworkError } from './client.js';
import { writes } from '../interrupt.js';
import type { RegistryClient, RegistryClientOptions, Scope } from './client.js';

// One repository on a registry, seen as a source and as a destination. The wire behaviour follows
// research/containers-semantics.md §9: all six manifest types in Accept (distribution 2.8 answers 404 to OCI indexes
// otherwise), every manifest body digest-verified, blobs streamed through a verifier, Location URLs used verbatim,
// octet-stream bodies (distribution parses anything else as a form), children before lists.

const ACCEPT = ALL_MANIFEST_TYPES.join(', ');
const noop = () => undefined;

// Image configs are read twice in one run — for an instance's platform when a list is assembled, then by the copy —
// and each read is a GET. Small blobs (configs are a few KiB) are kept once verified, per host and repository (a
// registry authorises per repository, so one repository's read never answers for another), within a byte budget.
const SMALL_BLOB_MAX = 64 * 1024;
const SMALL_BLOB_BUDGET = 4 * 1024 * 1024;
const smallBlobs = new Map<string, Buffer>();
let smallBlobBytes = 0;

function rememberSmallBlob(key: string, bytes: Buffer): void {
  if (smallBlobs.has(key) || smallBlobBytes + bytes.length > SMALL_BLOB_BUDGET) return;
  smallBlobs.set(key, bytes);
  smallBlobBytes += bytes.length;
}

export interface RegistryImageRef {
  /** host[:port] as the API is reached (docker.io already mapped to its API host). */
  host: string;
  repository: string;
  tag?: string;
  digest?: Digest;
  /** The name users wrote, for messages and the instances map. */
  name: string;
}

export class RegistryImage implements ImageSource, ImageDestination {
  readonly name: string;
  readonly tag: string | undefined;
  readonly ref: RegistryImageRef;
  private readonly client: RegistryClient;

  constructor(ref: RegistryImageRef, opts: RegistryClientOptions = {}) {
    this.ref = ref;
    this.name = ref.name;
    this.tag = ref.tag;
    this.client = clientFor(ref.host, opts);
  }

  get location(): BlobLocation {
    return { transport: 'docker', host: this.ref.host, repository: this.ref.repository };
  }

  /** host/repository, as the interrupt summary names it. */
  private get where(): string {
    return `${this.ref.host}/${this.ref.repository}`;
  }

  private get pull(): Scope[] {
    return [{ repository: this.ref.repository, actions: ['pull'] }];
  }

  private get push(): Scope[] {
    return [{ repository: this.ref.repository, actions: ['pull', 'push'] }];
  }

  private ownRef(ref?: string): string {
    const r = ref ?? this.ref.digest ?? this.ref.tag;
    if (!r) throw new PlaitError(ErrorCodes.E_REFERENCE_INVALID, `${this.name}: no tag or digest to read`);
    return r;
  }

  async getManifest(ref?: string): Promise<ManifestBlob> {
    // A connection that breaks while the body arrives is retried like one that breaks before the headers.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.getManifestOnce(ref);
      } catch (e) {
        if (!(isPlaitError(e) && e.code === ErrorCodes.E_NETWORK && e.retryable) || attempt >= 3) throw e;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  private async getManifestOnce(ref?: string): Promise<ManifestBlob> {
    const r = this.ownRef(ref);
    const what = `reading manifest ${this.ref.repository}:${r}`;
    const res = await this.client.send({
      method: 'GET', path: `/v2/${this.ref.repository}/manifests/${r}`, headers: { accept: ACCEPT }, scopes: this.pull, what,
    });
    const declared = Number(header(res.headers, 'content-length') ?? -1);
    if (declared > MAX_MANIFEST_BYTES) {
      await res.body.dump();
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${this.name}: manifest of ${declared} bytes is over the ${MAX_MANIFEST_BYTES}-byte limit`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res.body) {
        total += (chunk as Buffer).length;
        if (total > MAX_MANIFEST_BYTES) {
          res.body.destroy();
          throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${this.name}: manifest is over the ${MAX_MANIFEST_BYTES}-byte limit`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (e) {
      throw bodyError(this.ref.host, what, e);
    }
    const bytes = Buffer.concat(chunks);
    const digest = digestOf(bytes);
    if (isDigest(r) && r !== digest) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.ref.host}/${this.ref.repository}@${r}: the registry sent a manifest with digest ${digest}`);
    }
    const announced = header(res.headers, 'docker-content-digest');
    if (announced && announced.startsWith('sha256:') && announced !== digest) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.ref.host}/${this.ref.repository}:${r}: Docker-Content-Digest ${announced} but the body is ${digest}`);
    }
    const ct = normaliseMediaType(header(res.headers, 'content-type') ?? '');
    // A generic Content-Type says nothing and the body decides; a config or layer type for a manifest is a lie that
    // is kept, so that parsing refuses it.
    const lies = !ALL_MANIFEST_TYPES.includes(ct) && /^application\/vnd\.(oci\.image|docker\.(container|image))\./.test(ct);
    const mediaType = ALL_MANIFEST_TYPES.includes(ct) || lies ? ct : guessMediaType(bytes);
    return { bytes, mediaType, digest };
  }

  async resolve(ref?: string): Promise<ResolvedManifest | undefined> {
    const r = this.ownRef(ref);
    const res = await this.client.send({
      method: 'HEAD', path: `/v2/${this.ref.repository}/manifests/${r}`, headers: { accept: ACCEPT }, scopes: this.pull,
      what: `checking manifest ${this.ref.repository}:${r}`, ok: (s) => (s >= 200 && s < 300) || s === 404,
    });
    await res.body.dump();
    if (res.status === 404) return undefined;
    const d = header(res.headers, 'docker-content-digest');
    const ct = normaliseMediaType(header(res.headers, 'content-type') ?? '');
    if (!d || !ALL_MANIFEST_TYPES.includes(ct)) {
      // Registries may omit the digest on HEAD (the spec says assume sha256): fall back to reading the body.
      const m = await this.getManifest(r);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    }
    const digest = parseDigest(d);
    if (isDigest(r) && r !== digest) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.ref.host}/${this.ref.repository}@${r}: the registry announced ${digest}`);
    }
    return { digest, mediaType: ct, size: Number(header(res.headers, 'content-length') ?? -1) };
  }

  async getBlob(desc: BlobDescriptor): Promise<Readable> {
    const subject = `${this.ref.host}/${this.ref.repository}@${desc.digest}`;
    const small = desc.size >= 0 && desc.size <= SMALL_BLOB_MAX;
    const known = small ? smallBlobs.get(subject) : undefined;
    // Re-verified on the way out as well, so a caller always gets a verifying stream (and a PUT does not hash twice).
    if (known) return pipeline(Readable.from([known]), new VerifyingStream(desc.digest, desc.size, subject), noop);
    const body = await this.fetchBlob(desc);
    if (!small) return body;
    const bytes = await readSmall(body, SMALL_BLOB_MAX);
    rememberSmallBlob(subject, bytes);
    return pipeline(Readable.from([bytes]), new VerifyingStream(desc.digest, desc.size, subject), noop);
  }

  private async fetchBlob(desc: BlobDescriptor): Promise<Readable> {
    const what = `reading blob ${this.ref.repository}@${desc.digest}`;
    let res = await this.client.send({
      method: 'GET', path: `/v2/${this.ref.repository}/blobs/${desc.digest}`, scopes: this.pull, what,
      ok: (s) => (s >= 200 && s < 300) || s === 301 || s === 302 || s === 303 || s === 307 || s === 308,
    });
    for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
      await res.body.dump();
      const loc = header(res.headers, 'location');
      if (!loc || hops > 5) throw new PlaitError(ErrorCodes.E_REGISTRY, `${this.ref.host}: ${what}: redirect without a usable Location`);
      const next = new URL(loc, res.url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new PlaitError(ErrorCodes.E_REGISTRY, `${this.ref.host}/${this.ref.repository}: ${what}: redirected to a ${next.protocol} URL; only http and https are followed`);
      }
      if (next.host === new URL(res.url).host) {
        res = await this.client.send({ method: 'GET', path: next.toString(), scopes: this.pull, what,
          ok: (s) => (s >= 200 && s < 300) || (s >= 301 && s <= 308) });
      } else {
        // Object storage on another host: no Authorization goes there (distribution-spec).
        const r = await request(next, { method: 'GET' });
        if (r.statusCode !== 200) {
          await r.body.dump();
          throw new PlaitError(ErrorCodes.E_REGISTRY, `${this.ref.host}: ${what}: redirected download answered ${r.statusCode}`, { retryable: r.statusCode >= 500 });
        }
        res = { status: r.statusCode, headers: r.headers, body: r.body, url: next.toString() };
      }
    }
    const verifier = new VerifyingStream(desc.digest, desc.size, `${this.ref.host}/${this.ref.repository}@${desc.digest}`);
    // Registered before pipeline()'s own listener, so the consumer sees which blob of which registry broke off.
    (res.body as unknown as Readable).once('error', (e) => verifier.destroy(bodyError(this.ref.host, what, e)));
    // pipeline() wires errors both ways (a failed consumer stops the download) and never leaves one unhandled.
    return pipeline(res.body as unknown as Readable, verifier, noop);
  }

  async hasBlob(desc: BlobDescriptor): Promise<boolean> {
    const res = await this.client.send({
      method: 'HEAD', path: `/v2/${this.ref.repository}/blobs/${desc.digest}`, scopes: this.pull,
      what: `checking blob ${this.ref.repository}@${desc.digest}`, ok: (s) => s === 200 || s === 404,
    });
    await res.body.dump();
    if (res.status === 404) return false;
    const len = Number(header(res.headers, 'content-length') ?? -1);
    return desc.size < 0 || len < 0 || len === desc.size;
  }

  async mountBlob(desc: BlobDescriptor, from: BlobLocation): Promise<boolean> {
    if (from.transport !== 'docker' || from.host !== this.ref.host || from.repository === this.ref.repository) return false;
    const scopes: Scope[] = [...this.push, { repository: from.repository, actions: ['pull'] }];
    try {
      const res = await this.client.send({
        method: 'POST',
        path: `/v2/${this.ref.repository}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from.repository)}`,
        scopes, what: `mounting ${desc.digest} from ${from.repository}`, ok: (s) => s === 201 || s === 202,
      });
      await res.body.dump();
      if (res.status === 201) {
        writes.blob(this.where);
        return true;
      }
      // 202: the registry opened an ordinary upload instead; cancel it rather than leave it dangling.
      const loc = header(res.headers, 'location');
      if (loc) {
        const del = await this.client.send({ method: 'DELETE', path: new URL(loc, res.url).toString(), scopes: this.push,
          what: 'cancelling an upload', ok: () => true }).catch(() => undefined);
        await del?.body.dump();
      }
      return false;
    } catch {
      // A failed mount only means "copy the bytes instead".
      return false;
    }
  }

  async putBlob(stream: Readable, desc: BlobDescriptor | { digest?: undefined; size: number }): Promise<PutBlobResult> {
    const repo = this.ref.repository;
    const post = await this.client.send({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, scopes: this.push,
      what: `starting an upload to ${repo}`, ok: (s) => s === 202 || s === 201 });
    await post.body.dump();
    const loc = header(post.headers, 'location');
    if (!loc) throw new PlaitError(ErrorCodes.E_REGISTRY, `${this.ref.host}: upload to ${repo}: no Location in the answer`);
    const session = new URL(loc, post.url).toString();
    try {
      const r = await this.upload(new URL(session), stream, desc);
      writes.blob(this.where);
      return r;
    } catch (e) {
      // A failed or interrupted upload must not leave its session open on the registry (distribution keeps it until
      // its purge runs, a week by default): cancel it, as the distribution API allows.
      await this.cancelUpload(session);
      throw e;
    }
  }

  private async cancelUpload(session: string): Promise<void> {
    const del = await this.client.send({ method: 'DELETE', path: session, scopes: this.push, what: 'cancelling an upload',
      ok: () => true, uninterruptible: true }).catch(() => undefined);
    await del?.body.dump();
    let gone = del !== undefined && ((del.status >= 200 && del.status < 300) || del.status === 404);
    if (del !== undefined && !gone) {
      // distribution answers a DELETE whose upload state no longer matches (a PUT died half-way) with an error, yet
      // the session is unusable all the same: its own answer decides.
      const probe = await this.client.send({ method: 'GET', path: session, scopes: this.push, what: 'checking a cancelled upload',
        ok: () => true, uninterruptible: true }).catch(() => undefined);
      await probe?.body.dump();
      gone = probe?.status === 404;
    }
    writes.uploadCancelled(gone);
  }

  private async upload(location: URL, stream: Readable, desc: BlobDescriptor | { digest?: undefined; size: number }): Promise<PutBlobResult> {
    const repo = this.ref.repository;
    const verifier = verified(stream, desc.digest, desc.size, `uploading ${desc.digest ?? 'a blob'} to ${this.ref.host}/${repo}`);
    const body = verifier;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (desc.size >= 0) headers['content-length'] = String(desc.size);

    if (desc.digest) {
      // Digest known up front: one monolithic PUT carries the bytes and closes the upload (2 requests, not 3).
      location.searchParams.set('digest', desc.digest);
      const put = await this.client.send({ method: 'PUT', path: location.toString(), headers, body, scopes: this.push,
        what: `uploading ${desc.digest} to ${repo}`, idempotent: false, ok: (s) => s === 201 });
      await put.body.dump();
      return this.checkCommitted(put.headers, verifier, desc.digest);
    }
    const patch = await this.client.send({ method: 'PATCH', path: location.toString(), headers, body, scopes: this.push,
      what: `uploading to ${repo}`, idempotent: false, ok: (s) => s >= 200 && s < 400 });
    await patch.body.dump();
    const next = header(patch.headers, 'location');
    if (next) location = new URL(next, patch.url);
    const digest = verifier.digest;
    location.searchParams.set('digest', digest);
    const put = await this.client.send({ method: 'PUT', path: location.toString(), headers: { 'content-type': 'application/octet-stream', 'content-length': '0' },
      scopes: this.push, what: `finishing the upload of ${digest} to ${repo}`, idempotent: false, ok: (s) => s === 201 });
    await put.body.dump();
    return this.checkCommitted(put.headers, verifier, digest);
  }

  private checkCommitted(headers: Record<string, string | string[] | undefined>, verifier: VerifyingStream, digest: Digest): PutBlobResult {
    const announced = header(headers, 'docker-content-digest');
    if (announced && announced !== digest) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.ref.host}/${this.ref.repository}: stored blob as ${announced}, expected ${digest}`);
    }
    return { digest, size: verifier.size };
  }

  async putManifest(bytes: Buffer, mediaType: string, tag?: string): Promise<Digest> {
    const digest = digestOf(bytes);
    const target = tag ?? digest;
    const put = () => this.client.send({
      method: 'PUT', path: `/v2/${this.ref.repository}/manifests/${target}`, headers: { 'content-type': mediaType },
      body: bytes, scopes: this.push, what: `writing manifest ${this.ref.repository}:${target}`,
    });
    let res;
    try {
      res = await put();
    } catch (e) {
      // The bytes hash to `digest` (computed just above), so a DIGEST_INVALID for them is the registry's own doing:
      // distribution 2.8 answered it, in the torture runs' concurrent writers, to one of two clients that PUT the
      // same manifest within a few milliseconds while the other got its 201. One more try then finds the content
      // stored; a second DIGEST_INVALID, or any other error, fails as before.
      if (!(e instanceof PlaitError && e.details.registryCode === 'DIGEST_INVALID')) throw e;
      res = await put();
    }
    await res.body.dump();
    writes.manifest(this.where, tag);
    const announced = header(res.headers, 'docker-content-digest');
    if (announced && announced.startsWith('sha256:') && announced !== digest) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.ref.host}/${this.ref.repository}:${target}: registry stored ${announced}, we sent ${digest}`);
    }
    return digest;
  }

  /** All tags, following Link pagination (distribution 2.8 ignores `n` and sends them all at once). */
  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${this.ref.repository}/tags/list`;
    for (let pages = 0; path && pages < 1000; pages++) {
      const res = await this.client.send({ method: 'GET', path, scopes: this.pull, what: `listing tags of ${this.ref.repository}` });
      const text = (await readSmall(res.body as unknown as Readable).catch((e: unknown) => { throw bodyError(this.ref.host, `listing tags of ${this.ref.repository}`, e); })).toString('utf8');
      let body: { tags?: string[] | null };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new PlaitError(ErrorCodes.E_REGISTRY, `${this.ref.host}: listing tags of ${this.ref.repository}: the answer is not JSON`);
      }
      if (body.tags != null && (!Array.isArray(body.tags) || body.tags.some((t) => typeof t !== 'string'))) {
        throw new PlaitError(ErrorCodes.E_REGISTRY, `${this.ref.host}: listing tags of ${this.ref.repository}: "tags" is not a list of strings`);
      }
      tags.push(...(body.tags ?? []));
      const link = header(res.headers, 'link');
      const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
      path = m ? new URL(m[1]!, res.url).toString() : undefined;
    }
    return tags;
  }

  async deleteManifest(digest: Digest): Promise<void> {
    const res = await this.client.send({ method: 'DELETE', path: `/v2/${this.ref.repository}/manifests/${digest}`,
      scopes: [{ repository: this.ref.repository, actions: ['pull', 'push', 'delete'] }], what: `deleting ${this.ref.repository}@${digest}` });
    await res.body.dump();
  }

  /**
   * The index of manifests that refer to `digest` through `subject`: the referrers API (`api: true`), or — where the
   * registry has none (distribution 2.8 and v3.0.0 answer 404) — the `sha256-<hex>` tag of the fallback schema.
   */
  async referrers(digest: Digest, artifactType?: string): Promise<{ index: ManifestBlob | undefined; api: boolean }> {
    const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const res = await this.client.send({ method: 'GET', path: `/v2/${this.ref.repository}/referrers/${digest}${q}`,
      headers: { accept: 'application/vnd.oci.image.index.v1+json' }, scopes: this.pull, what: `listing referrers of ${digest}`,
      ok: (s) => s === 200 || s === 404 });
    if (res.status === 200) {
      const bytes = await readSmall(res.body as unknown as Readable).catch((e: unknown) => { throw bodyError(this.ref.host, `listing referrers of ${digest}`, e); });
      return { index: { bytes, mediaType: 'application/vnd.oci.image.index.v1+json', digest: digestOf(bytes) }, api: true };
    }
    await res.body.dump();
    const fallbackTag = digest.replace(':', '-');
    const found = await this.resolve(fallbackTag);
    return { index: found ? await this.getManifest(fallbackTag) : undefined, api: false };
  }

  async close(): Promise<void> {
    // Clients are shared per host (see clientFor); closeAllClients() ends them.
  }
}

/** A body that broke off (or overflowed) while it arrived, as one line naming the registry and what was read. */
function bodyError(host: string, what: string, e: unknown): PlaitError {
  if (isPlaitError(e)) return e;
  return new PlaitError(ErrorCodes.E_NETWORK, `${host}: ${what}: the connection broke during the body: ${describeNetworkError(e)}`, { cause: e, retryable: true });
}

/** Read a whole (small) stream into memory — for manifests and configs only, never layers. */
export async function readSmall(stream: Readable, limit = MAX_MANIFEST_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    total += (c as Buffer).length;
    if (total > limit) {
      stream.destroy();
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `more than ${limit} bytes where a small document was expected`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

