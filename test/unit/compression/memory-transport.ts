import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCodes, PlaitError } from '../../../src/errors.js';
import { DigestingHasher, digestOf } from '../../../src/oci/digest.js';
import type { Digest } from '../../../src/oci/digest.js';
import type {
  BlobDescriptor, BlobLocation, ImageDestination, ImageSource, ManifestBlob, PutBlobResult, ResolvedManifest,
} from '../../../src/transports/types.js';
import { VerifyingStream } from '../../../src/transports/verify.js';

// An in-memory registry for unit tests: repositories that are both source and destination, cross-repository mounts
// within one registry, verified blob streams like the real transports, and counters of what moved. A blob can also
// be a stream factory (content generated on the fly), and a repository can be a sink that keeps only digests, so
// hundreds of MiB pass through without being held.

type BlobContent = Buffer | (() => Readable);

export class MemoryRegistry {
  readonly repos = new Map<string, MemoryRepo>();
  constructor(readonly host = 'memory.test') {}

  repo(name: string, opts: { sink?: boolean } = {}): MemoryRepo {
    let r = this.repos.get(name);
    if (r === undefined) {
      r = new MemoryRepo(this, name, opts.sink === true);
      this.repos.set(name, r);
    }
    return r;
  }
}

export class MemoryRepo implements ImageSource, ImageDestination {
  readonly blobs = new Map<string, { size: number; content?: BlobContent }>();
  readonly manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  readonly tags = new Map<string, Digest>();
  readonly counts = { putBlob: 0, putManifest: 0, mount: 0, getBlob: 0, bytesUploaded: 0 };
  readonly location: BlobLocation;
  readonly name: string;
  readonly tag: string | undefined = undefined;
  /** Make getBlob of this digest fail after the first bytes (a dropped connection). */
  failBlob: string | undefined;

  constructor(readonly registry: MemoryRegistry, readonly repository: string, readonly sink: boolean) {
    this.location = { transport: 'docker', host: registry.host, repository };
    this.name = `docker://${registry.host}/${repository}`;
  }

  addBlob(bytes: Buffer): Digest {
    const d = digestOf(bytes);
    this.blobs.set(d, { size: bytes.length, content: bytes });
    return d;
  }

  /** A blob whose bytes are produced by `make` on every read (digest and size must be known). */
  addGeneratedBlob(digest: Digest, size: number, make: () => Readable): void {
    this.blobs.set(digest, { size, content: make });
  }

  addManifest(bytes: Buffer, mediaType: string, tag?: string): Digest {
    const d = digestOf(bytes);
    this.manifests.set(d, { bytes, mediaType });
    if (tag !== undefined) this.tags.set(tag, d);
    return d;
  }

  blobBytes(d: string): Buffer {
    const b = this.blobs.get(d)?.content;
    if (!Buffer.isBuffer(b)) throw new Error(`no bytes for ${d}`);
    return b;
  }

  // ---- ImageSource ----
  getManifest(ref?: string): Promise<ManifestBlob> {
    const d = ref === undefined ? undefined : ref.includes(':') ? ref : this.tags.get(ref);
    const m = d === undefined ? undefined : this.manifests.get(d);
    if (d === undefined || m === undefined) return Promise.reject(new PlaitError(ErrorCodes.E_MANIFEST_UNKNOWN, `${this.name}: ${ref} not found`));
    return Promise.resolve({ bytes: m.bytes, mediaType: m.mediaType, digest: d as Digest });
  }

  resolve(ref?: string): Promise<ResolvedManifest | undefined> {
    const d = ref === undefined ? undefined : ref.includes(':') ? ref : this.tags.get(ref);
    const m = d === undefined ? undefined : this.manifests.get(d);
    return Promise.resolve(d === undefined || m === undefined ? undefined : { digest: d as Digest, mediaType: m.mediaType, size: m.bytes.length });
  }

  getBlob(desc: BlobDescriptor): Promise<Readable> {
    const b = this.blobs.get(desc.digest);
    if (b?.content === undefined) return Promise.reject(new PlaitError(ErrorCodes.E_BLOB_UNKNOWN, `${this.name}: blob ${desc.digest} not found`));
    this.counts.getBlob++;
    let raw = Buffer.isBuffer(b.content) ? Readable.from(chunked(b.content), { objectMode: false }) : b.content();
    if (this.failBlob === desc.digest) raw = Readable.from(failAfterFirst(raw), { objectMode: false });
    const verifier = new VerifyingStream(desc.digest, desc.size, `${this.name}: blob ${desc.digest}`);
    raw.on('error', (e) => verifier.destroy(e));
    return Promise.resolve(raw.pipe(verifier));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  // ---- ImageDestination ----
  hasBlob(desc: BlobDescriptor): Promise<boolean> {
    const b = this.blobs.get(desc.digest);
    return Promise.resolve(b !== undefined && (desc.size < 0 || b.size === desc.size));
  }

  mountBlob(desc: BlobDescriptor, from: BlobLocation): Promise<boolean> {
    if (from.transport !== 'docker' || from.host !== this.registry.host || from.repository === this.repository) return Promise.resolve(false);
    const other = this.registry.repos.get(from.repository)?.blobs.get(desc.digest);
    if (other === undefined || (desc.size >= 0 && other.size !== desc.size)) return Promise.resolve(false);
    this.blobs.set(desc.digest, other);
    this.counts.mount++;
    return Promise.resolve(true);
  }

  async putBlob(stream: Readable, desc: BlobDescriptor | { digest?: undefined; size: number }): Promise<PutBlobResult> {
    this.counts.putBlob++;
    const hasher = new DigestingHasher(desc.digest === undefined ? 'sha256' : desc.digest.slice(0, desc.digest.indexOf(':')));
    const chunks: Buffer[] = [];
    const keep = !this.sink;
    await pipeline(stream, new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        hasher.update(chunk);
        if (keep) chunks.push(chunk);
        cb();
      },
    }));
    const digest = hasher.digest();
    if (desc.digest !== undefined && desc.digest !== digest) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.name}: upload hashed to ${digest}, expected ${desc.digest}`);
    }
    if (desc.size >= 0 && desc.size !== hasher.size) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.name}: upload of ${hasher.size} bytes, expected ${desc.size}`);
    }
    this.counts.bytesUploaded += hasher.size;
    this.blobs.set(digest, { size: hasher.size, ...(keep && { content: Buffer.concat(chunks) }) });
    return { digest, size: hasher.size };
  }

  putManifest(bytes: Buffer, mediaType: string, tag?: string): Promise<Digest> {
    this.counts.putManifest++;
    return Promise.resolve(this.addManifest(bytes, mediaType, tag));
  }
}

function* chunked(b: Buffer, size = 64 * 1024): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function* failAfterFirst(s: Readable): AsyncGenerator<Buffer> {
  for await (const c of s) {
    yield (c as Buffer).subarray(0, Math.min(16, (c as Buffer).length));
    throw new PlaitError(ErrorCodes.E_NETWORK, 'connection reset by the test');
  }
}
