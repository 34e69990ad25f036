import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, stat, link, rename, unlink, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pipeline as pipelineCb } from 'node:stream';
import type { Readable } from 'node:stream';
import { PlaitError, ErrorCodes } from '../../errors.js';
import { digestOf, parseDigest, isDigest } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import { guessMediaType, MAX_MANIFEST_BYTES } from '../../oci/manifest.js';
import { writeFileAtomic, tempPathFor, fsyncDir } from '../../fsutil.js';
import type {
  ImageSource, ImageDestination, ManifestBlob, BlobDescriptor, ResolvedManifest, BlobLocation, PutBlobResult,
} from '../types.js';
import { VerifyingStream, verified } from '../verify.js';
import { writes } from '../interrupt.js';

// The OCI image layout (image-spec image-layout.md): `oci-layout`, `index.json` whose entries name images through the
// `org.opencontainers.image.ref.name` annotation, and content-addressed `blobs/<alg>/<hex>`. Blobs are written to a
// temp file, verified, fsynced and renamed, so a reader never sees a partial blob; index.json is replaced atomically.
// Digests are validated before they become paths, and ref names follow the spec's grammar, so nothing can escape DIR.

export const REF_NAME = 'org.opencontainers.image.ref.name';
const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

// image-spec: ref ::= component ("/" component)*; component ::= alphanum (separator alphanum)*;
// separator ::= [-._:@+] | "--"
const REF_RE = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

export function validateRefName(ref: string): string {
  if (!REF_RE.test(ref)) {
    throw new PlaitError(ErrorCodes.E_REFERENCE_INVALID, `oci: invalid reference name "${ref}" (letters, digits and - . _ : @ + separators, "/" between components)`);
  }
  return ref;
}

interface IndexDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Record<string, unknown>;
  [k: string]: unknown;
}

interface IndexJson {
  schemaVersion: number;
  mediaType?: string;
  manifests: IndexDescriptor[];
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

// In-process serialisation of index.json updates per layout (renames are atomic, but read-modify-write is not).
const indexLocks = new Map<string, Promise<unknown>>();
async function withIndexLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const prev = indexLocks.get(dir) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  indexLocks.set(dir, next.catch(() => undefined));
  return next;
}

export class LayoutImage implements ImageSource, ImageDestination {
  readonly name: string;
  readonly location: BlobLocation;
  readonly dir: string;
  readonly tag: string | undefined;

  /** `dir` is the layout directory; `ref` the ref name (or undefined: the only image in index.json when reading). */
  constructor(dir: string, ref?: string) {
    this.dir = resolve(dir);
    if (ref !== undefined && ref !== '' && !isDigest(ref)) validateRefName(ref);
    this.tag = ref === '' ? undefined : ref;
    this.name = `oci:${dir}${ref ? `:${ref}` : ''}`;
    this.location = { transport: 'oci', host: this.dir, repository: '' };
  }

  blobPath(d: Digest): string {
    const parsed = parseDigest(d);
    const i = parsed.indexOf(':');
    return join(this.dir, 'blobs', parsed.slice(0, i), parsed.slice(i + 1));
  }

  async readIndex(): Promise<IndexJson> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'index.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new PlaitError(ErrorCodes.E_NOT_FOUND, `${this.name}: ${this.dir} is not an OCI layout (no index.json)`);
      }
      throw e;
    }
    let idx: IndexJson;
    try {
      idx = JSON.parse(text) as IndexJson;
    } catch {
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${join(this.dir, 'index.json')}: not valid JSON`);
    }
    if (idx.schemaVersion !== 2 || !Array.isArray(idx.manifests ?? [])) {
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${join(this.dir, 'index.json')}: not an OCI image index`);
    }
    idx.manifests ??= [];
    return idx;
  }

  /** The index.json entry a ref (or the lone entry) names. */
  async findDescriptor(ref?: string): Promise<IndexDescriptor | undefined> {
    const idx = await this.readIndex();
    const want = ref ?? this.tag;
    if (want === undefined) {
      if (idx.manifests.length === 1) return idx.manifests[0];
      throw new PlaitError(ErrorCodes.E_REFERENCE_INVALID, `${this.name}: no reference given and index.json holds ${idx.manifests.length} images`);
    }
    if (isDigest(want)) return idx.manifests.find((m) => m.digest === want) ?? { mediaType: '', digest: want, size: -1 };
    return idx.manifests.find((m) => m.annotations?.[REF_NAME] === want);
  }

  async getManifest(ref?: string): Promise<ManifestBlob> {
    const desc = await this.findDescriptor(ref);
    if (!desc) throw new PlaitError(ErrorCodes.E_MANIFEST_UNKNOWN, `${this.name}: no image named "${ref ?? this.tag ?? ''}" in ${this.dir}`);
    const digest = parseDigest(desc.digest);
    let bytes: Buffer;
    try {
      const st = await stat(this.blobPath(digest));
      if (st.size > MAX_MANIFEST_BYTES) throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${this.name}: manifest ${digest} is over ${MAX_MANIFEST_BYTES} bytes`);
      bytes = await readFile(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new PlaitError(ErrorCodes.E_MANIFEST_UNKNOWN, `${this.name}: manifest ${digest} is missing from blobs/`);
      throw e;
    }
    const got = digestOf(bytes, digest.slice(0, digest.indexOf(':')));
    if (got !== digest) throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.name}: blob ${digest} holds content with digest ${got}`);
    if (desc.size >= 0 && desc.size !== bytes.length) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.name}: index.json says ${desc.size} bytes for ${digest}, the blob has ${bytes.length}`);
    }
    return { bytes, mediaType: desc.mediaType || guessMediaType(bytes), digest };
  }

  async resolve(ref?: string): Promise<ResolvedManifest | undefined> {
    let desc: IndexDescriptor | undefined;
    try {
      desc = await this.findDescriptor(ref);
    } catch (e) {
      if (e instanceof PlaitError && e.code === ErrorCodes.E_NOT_FOUND) return undefined;
      throw e;
    }
    if (!desc) return undefined;
    if (desc.size < 0 || !desc.mediaType) {
      const m = await this.getManifest(desc.digest).catch(() => undefined);
      return m ? { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length } : undefined;
    }
    return { digest: parseDigest(desc.digest), mediaType: desc.mediaType, size: desc.size };
  }

  async getBlob(desc: BlobDescriptor): Promise<Readable> {
    const path = this.blobPath(desc.digest);
    try {
      await stat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new PlaitError(ErrorCodes.E_BLOB_UNKNOWN, `${this.name}: blob ${desc.digest} not found`);
      throw e;
    }
    const verifier = new VerifyingStream(desc.digest, desc.size, `${this.name}: blob ${desc.digest}`);
    return pipelineCb(createReadStream(path, { highWaterMark: 1 << 20 }), verifier, () => undefined);
  }

  async hasBlob(desc: BlobDescriptor): Promise<boolean> {
    try {
      const st = await stat(this.blobPath(desc.digest));
      return desc.size < 0 || st.size === desc.size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /** Between layouts on one filesystem a hard link is the mount: no bytes are copied. */
  async mountBlob(desc: BlobDescriptor, from: BlobLocation): Promise<boolean> {
    if (from.transport !== 'oci' || from.host === this.dir) return false;
    const src = new LayoutImage(from.host).blobPath(desc.digest);
    const dst = this.blobPath(desc.digest);
    try {
      const st = await stat(src);
      if (desc.size >= 0 && st.size !== desc.size) return false;
      await this.ensureLayout();
      await mkdir(join(dst, '..'), { recursive: true });
      await link(src, dst);
      return true;
    } catch (e) {
      // EEXIST: someone stored it meanwhile — present is present.
      return (e as NodeJS.ErrnoException).code === 'EEXIST';
    }
  }

  async ensureLayout(): Promise<void> {
    await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    try {
      await stat(join(this.dir, 'oci-layout'));
    } catch {
      await writeFileAtomic(join(this.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    }
    try {
      await stat(join(this.dir, 'index.json'));
    } catch {
      await writeFileAtomic(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [] }));
    }
  }

  async putBlob(stream: Readable, desc: BlobDescriptor | { digest?: undefined; size: number }): Promise<PutBlobResult> {
    await this.ensureLayout();
    const dir = join(this.dir, 'blobs', (desc.digest ?? 'sha256:').split(':')[0]!);
    await mkdir(dir, { recursive: true });
    const tmp = tempPathFor(join(dir, 'upload'));
    const verifier = verified(stream, desc.digest, desc.size, `${this.name}: writing ${desc.digest ?? 'a blob'}`);
    try {
      await pipeline(verifier, createWriteStream(tmp, { flags: 'wx' }));
      const fh = await open(tmp, 'r');
      await fh.sync();
      await fh.close();
      const digest = verifier.digest;
      await rename(tmp, this.blobPath(digest));
      await fsyncDir(dir);
      writes.blob(`oci:${this.dir}`);
      return { digest, size: verifier.size };
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  async putManifest(bytes: Buffer, mediaType: string, tag?: string): Promise<Digest> {
    await this.ensureLayout();
    const digest = digestOf(bytes);
    const path = this.blobPath(digest);
    if (!(await this.hasBlob({ digest, size: bytes.length }))) await writeFileAtomic(path, bytes);
    if (tag !== undefined) {
      validateRefName(tag);
      await withIndexLock(this.dir, async () => {
        const idx = await this.readIndex();
        const entry: IndexDescriptor = { mediaType, digest, size: bytes.length, annotations: { [REF_NAME]: tag } };
        // A ref names one image: replace whatever held it before (as containers/image's oci destination does).
        idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
        idx.manifests.push(entry);
        await writeFileAtomic(join(this.dir, 'index.json'), JSON.stringify(idx));
      });
    }
    writes.manifest(`oci:${this.dir}`, tag);
    return digest;
  }

  async close(): Promise<void> {
    // nothing held open
  }
}
