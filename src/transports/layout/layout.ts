import { constants, createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat, lstat, link, rename, unlink, open, realpath } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pipeline as pipelineCb } from 'node:stream';
import type { Readable } from 'node:stream';
import { PlaitError, ErrorCodes } from '../../errors.js';
import { digestOf, parseDigest, isDigest, DigestingHasher } from '../../oci/digest.js';
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

// index.json lists every image of the layout, so it may well pass the 4 MiB manifest cap (10 000 entries are about
// 2 MiB); past this it is refused rather than read into memory.
export const MAX_INDEX_JSON_BYTES = 32 * 1024 * 1024;

// A blob is opened without blocking (a FIFO planted in blobs/ must not hang the read) and without letting the terminal
// become ours; what is opened must then prove to be a regular file inside the layout.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The entries of index.json checked as descriptors, each problem named by its JSON path. */
function checkIndex(file: string, v: unknown): IndexJson {
  const bad = (path: string, why: string): never => {
    throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${file}: ${path}: ${why}`, { details: { path } });
  };
  if (!isObject(v)) bad('(root)', 'not an OCI image index (a JSON object is needed)');
  const idx = v as IndexJson;
  if (idx.schemaVersion !== 2) bad('schemaVersion', `must be 2, got ${JSON.stringify(idx.schemaVersion) ?? 'nothing'}`);
  if (idx.manifests != null && !Array.isArray(idx.manifests)) bad('manifests', 'must be an array');
  idx.manifests ??= [];
  idx.manifests.forEach((m: unknown, i) => {
    const at = `manifests[${i}]`;
    if (!isObject(m)) bad(at, 'must be an object (a descriptor)');
    const d = m as Record<string, unknown>;
    if (typeof d.mediaType !== 'string') bad(`${at}.mediaType`, 'must be a string');
    if (typeof d.digest !== 'string') bad(`${at}.digest`, d.digest === undefined ? 'missing' : 'must be a string');
    try {
      parseDigest(d.digest as string);
    } catch (e) {
      bad(`${at}.digest`, (e as Error).message);
    }
    if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) bad(`${at}.size`, `must be a non-negative integer, got ${JSON.stringify(d.size) ?? 'nothing'}`);
    if (d.annotations != null && (!isObject(d.annotations) || Object.values(d.annotations).some((a) => typeof a !== 'string'))) {
      bad(`${at}.annotations`, 'must map strings to strings');
    }
  });
  return idx;
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

  /**
   * Open `path` (inside the layout) for reading: it must resolve to a regular file under the layout's own directory —
   * a symlink out of the layout, a directory, a FIFO or a device is refused in one line. Undefined when it is absent.
   */
  private async openInside(path: string, what: string): Promise<{ fh: FileHandle; size: number } | undefined> {
    let real: string;
    let root: string;
    try {
      [real, root] = await Promise.all([realpath(path), realpath(this.dir)]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw new PlaitError(ErrorCodes.E_STORE, `${this.name}: ${what}: ${(e as Error).message}`, { cause: e });
    }
    if (!real.startsWith(root + sep)) {
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${this.name}: ${what} is outside the layout (it resolves to ${real})`);
    }
    let fh: FileHandle;
    try {
      fh = await open(real, OPEN_FLAGS);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new PlaitError(ErrorCodes.E_STORE, `${this.name}: ${what}: ${(e as Error).message}`, { cause: e });
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${this.name}: ${what} is not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'a device or socket'})`);
    }
    return { fh, size: st.size };
  }

  /** Read a small file of the layout whole, refusing one over `limit` bytes without reading it. */
  private async readInside(path: string, what: string, limit: number): Promise<Buffer | undefined> {
    const opened = await this.openInside(path, what);
    if (!opened) return undefined;
    try {
      if (opened.size > limit) throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${this.name}: ${what} is ${opened.size} bytes, over the ${limit}-byte limit`);
      const buf = Buffer.alloc(opened.size);
      const { bytesRead } = await opened.fh.read(buf, 0, opened.size, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await opened.fh.close();
    }
  }

  /** oci-layout, when present, must be a JSON object with an imageLayoutVersion of the 1.x line plait knows. */
  private async checkOciLayout(): Promise<void> {
    const file = join(this.dir, 'oci-layout');
    const bytes = await this.readInside(file, 'oci-layout', 64 * 1024);
    if (bytes === undefined) return;
    let v: unknown;
    try {
      v = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${file}: not valid JSON`);
    }
    const version = isObject(v) ? v.imageLayoutVersion : undefined;
    if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
      throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${file}: imageLayoutVersion ${JSON.stringify(version) ?? 'missing'}: only 1.x.y layouts are supported`);
    }
  }

  async readIndex(): Promise<IndexJson> {
    const file = join(this.dir, 'index.json');
    await this.checkOciLayout();
    const bytes = await this.readInside(file, 'index.json', MAX_INDEX_JSON_BYTES);
    if (bytes === undefined) throw new PlaitError(ErrorCodes.E_NOT_FOUND, `${this.name}: ${this.dir} is not an OCI layout (no index.json)`);
    let v: unknown;
    try {
      v = JSON.parse(bytes.toString('utf8'));
    } catch {
      // Not the parser's message: it quotes the text, and index.json is not verified content.
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${file}: not valid JSON`);
    }
    return checkIndex(file, v);
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
    const named = idx.manifests.filter((m) => m.annotations?.[REF_NAME] === want);
    if (new Set(named.map((m) => m.digest)).size > 1) {
      throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${join(this.dir, 'index.json')}: ${named.length} entries are named "${want}", with different digests`);
    }
    return named[0];
  }

  async getManifest(ref?: string): Promise<ManifestBlob> {
    const desc = await this.findDescriptor(ref);
    if (!desc) throw new PlaitError(ErrorCodes.E_MANIFEST_UNKNOWN, `${this.name}: no image named "${ref ?? this.tag ?? ''}" in ${this.dir}`);
    const digest = parseDigest(desc.digest);
    const bytes = await this.readInside(this.blobPath(digest), `manifest ${digest}`, MAX_MANIFEST_BYTES);
    if (bytes === undefined) throw new PlaitError(ErrorCodes.E_MANIFEST_UNKNOWN, `${this.name}: manifest ${digest} is missing from blobs/`);
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
      let m: ManifestBlob;
      try {
        m = await this.getManifest(desc.digest);
      } catch (e) {
        // Absent is "not there"; a blob that is there but wrong must say so.
        if (e instanceof PlaitError && e.code === ErrorCodes.E_MANIFEST_UNKNOWN) return undefined;
        throw e;
      }
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    }
    return { digest: parseDigest(desc.digest), mediaType: desc.mediaType, size: desc.size };
  }

  async getBlob(desc: BlobDescriptor): Promise<Readable> {
    const opened = await this.openInside(this.blobPath(desc.digest), `blob ${desc.digest}`);
    if (!opened) throw new PlaitError(ErrorCodes.E_BLOB_UNKNOWN, `${this.name}: blob ${desc.digest} not found`);
    const verifier = new VerifyingStream(desc.digest, desc.size, `${this.name}: blob ${desc.digest}`);
    return pipelineCb(createReadStream('', { fd: opened.fh, highWaterMark: 1 << 20 }), verifier, () => undefined);
  }

  /** Whether a blob can be read (a regular file inside the layout, of the size asked), without reading it. */
  async checkBlob(desc: BlobDescriptor): Promise<void> {
    const opened = await this.openInside(this.blobPath(desc.digest), `blob ${desc.digest}`);
    if (!opened) throw new PlaitError(ErrorCodes.E_BLOB_UNKNOWN, `${this.name}: blob ${desc.digest} not found`);
    await opened.fh.close();
    if (desc.size >= 0 && opened.size !== desc.size) {
      throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.name}: blob ${desc.digest} has ${opened.size} bytes, expected ${desc.size}`);
    }
  }

  async hasBlob(desc: BlobDescriptor): Promise<boolean> {
    try {
      const st = await lstat(this.blobPath(desc.digest));
      // Only a regular file counts as present: anything else planted there is no blob plait wrote.
      return st.isFile() && (desc.size < 0 || st.size === desc.size);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /**
   * Between layouts on one filesystem a hard link is the mount: no bytes are written. Only a regular file (not a
   * symlink, which link(2) would copy as a symlink) whose bytes hash to its name is linked; anything else is copied
   * through the verifying read, which then says what is wrong.
   */
  async mountBlob(desc: BlobDescriptor, from: BlobLocation): Promise<boolean> {
    if (from.transport !== 'oci' || from.host === this.dir) return false;
    const src = new LayoutImage(from.host).blobPath(desc.digest);
    const dst = this.blobPath(desc.digest);
    try {
      const st = await lstat(src);
      if (!st.isFile() || (desc.size >= 0 && st.size !== desc.size)) return false;
      const hasher = new DigestingHasher(desc.digest.slice(0, desc.digest.indexOf(':')));
      for await (const chunk of createReadStream(src, { highWaterMark: 1 << 20 })) hasher.update(chunk as Buffer);
      if (hasher.digest() !== desc.digest) return false;
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
    // A layout of another version is not written into.
    await this.checkOciLayout();
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
