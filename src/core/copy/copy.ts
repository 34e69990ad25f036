import type { Readable } from 'node:stream';
import { PlaitError, ErrorCodes } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { parseServedManifest } from '../../transports/documents.js';
import type { Descriptor } from '../../oci/types.js';
import {
  OCI_LAYER_NONDISTRIBUTABLE, OCI_LAYER_NONDISTRIBUTABLE_GZIP, OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
  DOCKER_FOREIGN_LAYER, DOCKER_FOREIGN_LAYER_GZIP,
} from '../../oci/mediatype.js';
import type { ImageSource, ImageDestination, BlobDescriptor, ManifestBlob, PutBlobResult } from '../../transports/types.js';
import { Semaphore } from '../../transports/registry/semaphore.js';
import { metered } from './progress.js';

// The copy engine behind Push and every transport-to-transport move. Per image: blobs first (present → skip; same
// registry → cross-repository mount from the source repository, which containers/image does not try on a first push;
// else a verified stream from source to destination, never buffered), then the image manifest by digest; per list:
// every child first, then the list — so a registry that validates references (distribution 2.8 does) never sees a
// list before its children. Bounded: at most `jobs` blob transfers in flight.

/** What a push is doing: copying blobs, recompressing layers, writing the list under its tags, signing. */
export type CopyPhase = 'copy' | 'recompress' | 'push list' | 'sign';

/**
 * Progress of a copy. Blob-level kinds report each blob's outcome (`size`: the blob's size). Byte-level kinds let a
 * display show done/total: `total` adds `bytes` to what this copy will go through (once per blob), `bytes` reports
 * `bytes` more of them done (throttled while a stream flows; a blob found present or mounted counts as done at once
 * through its blob event). `phase` says what the push moved on to.
 */
export interface CopyProgress {
  kind: 'blob-skipped' | 'blob-mounted' | 'blob-copied' | 'manifest-skipped' | 'manifest-written' | 'total' | 'bytes' | 'phase';
  digest?: Digest;
  bytes: number;
  size?: number;
  phase?: CopyPhase;
}

/**
 * Something else fed from the bytes a copy reads anyway (the compression variants a push makes of the layers it
 * copies): given the verified source stream of a blob that must move and the upload that moves it, it runs that
 * upload and whatever else it feeds from the same read, and returns the upload's result once both are done.
 */
export interface BlobTee {
  copy(stream: Readable, desc: BlobDescriptor, put: (s: Readable) => Promise<PutBlobResult>): Promise<PutBlobResult>;
}

export interface CopyOptions {
  /** Blob transfers in flight at once (default 4). */
  jobs?: number;
  /** Tags to point at the top manifest; none → stored by digest only. Default: the destination's own tag. */
  tags?: string[];
  /** Copy only these instances of a list (the list itself is still written as it is). Default: all. */
  instances?: Digest[];
  onProgress?: (p: CopyProgress) => void;
  /** Shared between the copiers of one push, so that `jobs` bounds all of them and a blob moves once. */
  shared?: SharedCopyState;
  /** Feeds more than the upload from each blob read (see BlobTee). */
  tee?: BlobTee;
}

export interface SharedCopyState {
  sem: Semaphore;
  blobs: Map<string, Promise<void>>;
}

export function sharedCopyState(jobs = 4): SharedCopyState {
  return { sem: new Semaphore(jobs), blobs: new Map() };
}

export interface CopyResult {
  digest: Digest;
  mediaType: string;
  size: number;
  /** Bytes streamed source → destination (mounted or present blobs count 0). */
  bytesCopied: number;
}

// Layers that by their type must not be pushed (foreign / non-distributable): registries accept manifests that point
// at them through `urls` without holding the bytes.
const NON_DISTRIBUTABLE = new Set<string>([
  OCI_LAYER_NONDISTRIBUTABLE, OCI_LAYER_NONDISTRIBUTABLE_GZIP, OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
  DOCKER_FOREIGN_LAYER, DOCKER_FOREIGN_LAYER_GZIP,
]);

export class Copier {
  private readonly src: ImageSource;
  private readonly dest: ImageDestination;
  private readonly sem: Semaphore;
  private readonly blobs: Map<string, Promise<void>>;
  private readonly opts: CopyOptions;
  // On the first failure every other transfer is stopped, so a failed copy leaves no half-written blob behind.
  private readonly abort = new AbortController();
  private firstError: unknown;
  bytesCopied = 0;

  constructor(src: ImageSource, dest: ImageDestination, opts: CopyOptions = {}) {
    this.src = src;
    this.dest = dest;
    this.opts = opts;
    this.sem = opts.shared?.sem ?? new Semaphore(opts.jobs ?? 4);
    this.blobs = opts.shared?.blobs ?? new Map<string, Promise<void>>();
  }

  private progress(p: CopyProgress): void {
    this.opts.onProgress?.(p);
  }

  /** Make one blob present at the destination; concurrent requests for one digest share the work. */
  ensureBlob(desc: BlobDescriptor): Promise<void> {
    let p = this.blobs.get(desc.digest);
    if (!p) {
      this.progress({ kind: 'total', digest: desc.digest, bytes: desc.size });
      p = this.copyBlob(desc);
      this.blobs.set(desc.digest, p);
    }
    return p;
  }

  private async copyBlob(desc: BlobDescriptor): Promise<void> {
    const release = await this.sem.acquire();
    try {
      this.abort.signal.throwIfAborted();
      // On one registry a mount answers "present" too (201 whether or not the blob was already there), so it goes
      // first and saves the HEAD; elsewhere a HEAD decides whether bytes must move.
      const sameRegistry = this.src.location.transport === 'docker' && this.dest.location.transport === 'docker'
        && this.src.location.host === this.dest.location.host && this.src.location.repository !== this.dest.location.repository;
      if (sameRegistry && await this.dest.mountBlob(desc, this.src.location)) {
        this.progress({ kind: 'blob-mounted', digest: desc.digest, bytes: 0, size: desc.size });
        return;
      }
      if (await this.dest.hasBlob(desc)) {
        this.progress({ kind: 'blob-skipped', digest: desc.digest, bytes: 0, size: desc.size });
        return;
      }
      if (!sameRegistry && await this.dest.mountBlob(desc, this.src.location)) {
        this.progress({ kind: 'blob-mounted', digest: desc.digest, bytes: 0, size: desc.size });
        return;
      }
      let ticked = 0;
      const raw = await this.src.getBlob(desc);
      // The meter only when someone listens: an unobserved copy keeps its stream as it is.
      const stream = this.opts.onProgress === undefined ? raw : metered(raw, (n) => {
        ticked += n;
        this.progress({ kind: 'bytes', digest: desc.digest, bytes: n });
      });
      const stop = () => {
        // The consumer may already be done with the stream; a destroy must then not raise an unheard 'error'.
        stream.on('error', () => undefined);
        stream.destroy(new PlaitError(ErrorCodes.E_INTERNAL, 'stopped: another transfer of this copy failed'));
      };
      this.abort.signal.addEventListener('abort', stop, { once: true });
      let put;
      try {
        const put1 = (s: Readable) => this.dest.putBlob(s, desc);
        put = this.opts.tee === undefined ? await put1(stream) : await this.opts.tee.copy(stream, desc, put1);
      } finally {
        this.abort.signal.removeEventListener('abort', stop);
      }
      this.bytesCopied += put.size;
      if (put.size > ticked) this.progress({ kind: 'bytes', digest: desc.digest, bytes: put.size - ticked });
      this.progress({ kind: 'blob-copied', digest: desc.digest, bytes: put.size, size: put.size });
    } finally {
      release();
    }
  }

  private ensureBlobsOf(blobs: Descriptor[]): Promise<void> {
    return this.settle(blobs
      .filter((b) => !(NON_DISTRIBUTABLE.has(b.mediaType) && (b.urls?.length ?? 0) > 0))
      .map((b) => this.ensureBlob({ digest: b.digest, size: b.size })));
  }

  /** Wait for every task; on the first failure stop the others, let them finish failing, then throw that failure. */
  private async settle(tasks: Array<Promise<void>>): Promise<void> {
    let first: unknown;
    let failed = false;
    await Promise.all(tasks.map((t) => t.catch((e: unknown) => {
      if (!failed) {
        failed = true;
        first = e;
      }
      // What stopped the copy is reported, not the "stopped" errors of the transfers it cancelled.
      if (!this.abort.signal.aborted) {
        this.firstError = e;
        this.abort.abort();
      }
    })));
    if (failed) throw this.firstError ?? first;
  }

  /** Copy one image manifest (its blobs, then itself by digest). Skips everything when it is already there. */
  async copyImageManifest(m: ManifestBlob): Promise<void> {
    const parsed = parseServedManifest(this.src, m);
    if (parsed.kind !== 'image') {
      throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${this.src.name}: ${m.digest} is a nested list; lists of lists are not copied`);
    }
    // A registry accepted this manifest only once its blobs existed, so a present manifest vouches for them.
    if (await this.dest.resolve(m.digest)) {
      this.progress({ kind: 'manifest-skipped', digest: m.digest, bytes: 0 });
      return;
    }
    await this.ensureBlobsOf([parsed.manifest.config, ...parsed.manifest.layers]);
    await this.dest.putManifest(m.bytes, m.mediaType);
    this.progress({ kind: 'manifest-written', digest: m.digest, bytes: m.bytes.length });
  }

  /** Copy the source's top manifest and everything below it. */
  async run(top?: ManifestBlob): Promise<CopyResult> {
    const m = top ?? (await this.src.getManifest());
    const parsed = parseServedManifest(this.src, m);
    if (this.src.checkBlob) {
      const wanted = this.opts.instances ? new Set<string>(this.opts.instances) : undefined;
      const children = parsed.kind === 'index' ? (parsed.index.manifests ?? []).filter((d) => !wanted || wanted.has(d.digest)) : [];
      await checkSourceBlobs(this.src, parsed.kind === 'image' ? [m] : await Promise.all(children.map((d) => this.src.getManifest(d.digest))));
    }
    if (parsed.kind === 'index') {
      const wanted = this.opts.instances ? new Set<string>(this.opts.instances) : undefined;
      const children = (parsed.index.manifests ?? []).filter((d) => !wanted || wanted.has(d.digest));
      await this.settle(children.map(async (d) => {
        const child = await this.src.getManifest(d.digest);
        if (child.bytes.length !== d.size) {
          throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${this.src.name}: list entry ${d.digest} says ${d.size} bytes, the manifest has ${child.bytes.length}`);
        }
        await this.copyImageManifest(child);
      }));
    } else {
      await this.ensureBlobsOf([parsed.manifest.config, ...parsed.manifest.layers]);
    }
    const tags = this.opts.tags ?? (this.dest.tag !== undefined ? [this.dest.tag] : []);
    if (tags.length === 0) {
      await this.dest.putManifest(m.bytes, m.mediaType);
    } else {
      for (const t of tags) await this.dest.putManifest(m.bytes, m.mediaType, t);
    }
    this.progress({ kind: 'manifest-written', digest: m.digest, bytes: m.bytes.length });
    return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length, bytesCopied: this.bytesCopied };
  }
}

/**
 * A source that can tell cheaply whether its blobs are readable (a layout: a blob missing, a directory, a FIFO, a
 * symlink out of it, of the wrong size) is asked about every blob of these image manifests first, so that such a
 * source is refused before the destination is touched. Other sources: nothing to do.
 */
export async function checkSourceBlobs(src: ImageSource, manifests: ManifestBlob[]): Promise<void> {
  const check = src.checkBlob?.bind(src);
  if (!check) return;
  const seen = new Set<string>();
  for (const m of manifests) {
    const parsed = parseServedManifest(src, m);
    if (parsed.kind !== 'image') continue;
    for (const b of [parsed.manifest.config, ...parsed.manifest.layers]) {
      if (seen.has(b.digest) || (NON_DISTRIBUTABLE.has(b.mediaType) && (b.urls?.length ?? 0) > 0)) continue;
      seen.add(b.digest);
      await check({ digest: b.digest, size: b.size });
    }
  }
}

/** Copy an image or a whole list from src to dest, preserving digests. */
export function copyImage(src: ImageSource, dest: ImageDestination, opts: CopyOptions = {}, top?: ManifestBlob): Promise<CopyResult> {
  return new Copier(src, dest, opts).run(top);
}
