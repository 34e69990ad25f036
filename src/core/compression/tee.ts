import type { Readable } from 'node:stream';
import type { Digest } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/types.js';
import type { BlobDescriptor, ImageDestination, PutBlobResult } from '../../transports/types.js';
import { splitVerified, VerifyingStream } from '../../transports/verify.js';
import type { BlobTee } from '../copy/copy.js';
import { compressionOfMediaType } from './detect.js';
import type { Algorithm } from './detect.js';
import { recompressStream } from './recompress.js';
import type { RecompressResult } from './recompress.js';
import { effectiveLevel } from './streams.js';
import { variantKey } from './cache.js';

// Variants made from the copy's own read. A push that adds compression variants copies each layer to the destination
// and then needs it once more, recompressed; reading it back doubles what crosses the network. Here the verified
// source stream of a layer being copied is split: one copy goes to the plain upload, one per wanted variant through
// decompress → compress → a streamed upload (POST, PATCH, PUT with the digest found at the end). The slower branch
// sets the pace of the read; nothing is buffered beyond the streams' own buffers. The compressor is the one
// recompressBlob uses with the same level and parameters, so the variant's bytes (and digest) are the same either way.

/**
 * Teed layers in flight at once. Each holds two of the registry client's request slots (8 per host) for the whole
 * of its two uploads, and the plain one cannot finish while the variant one waits for a slot (the read feeds both):
 * fewer teed layers than slots always leaves one pair able to run. More layers beyond this copy plainly and have
 * their variant made afterwards, from the destination, as without a tee.
 */
export const MAX_TEED = 4;

interface Wanted {
  layer: Descriptor;
  targets: Map<string, { algorithm: Algorithm; level: number }>;
}

export class VariantTee implements BlobTee {
  private readonly wanted = new Map<string, Wanted>();
  private readonly made = new Map<string, Promise<RecompressResult>>();
  private inFlight = 0;

  constructor(private readonly dest: ImageDestination, private readonly opts: { workers?: number } = {}) {}

  /** Make the `algorithm` variant of `layer` when the copy moves its bytes. Layers already in it need none. */
  want(layer: Descriptor, algorithm: Algorithm, level?: number): void {
    if (compressionOfMediaType(layer.mediaType) === algorithm) return;
    const w = this.wanted.get(layer.digest) ?? { layer, targets: new Map() };
    w.targets.set(variantKey(algorithm, level), { algorithm, level: effectiveLevel(algorithm, level) });
    this.wanted.set(layer.digest, w);
  }

  /** The variant made from the copy of `source`, if one was (its promise fails when the making did). */
  result(source: Digest, key: string): Promise<RecompressResult> | undefined {
    return this.made.get(`${source} ${key}`);
  }

  async copy(stream: Readable, desc: BlobDescriptor, put: (s: Readable) => Promise<PutBlobResult>): Promise<PutBlobResult> {
    const w = this.wanted.get(desc.digest);
    if (w === undefined || !(stream instanceof VerifyingStream) || this.inFlight >= MAX_TEED) return put(stream);
    this.wanted.delete(desc.digest);
    const targets = [...w.targets];
    const [plain, ...feeds] = splitVerified(stream, 1 + targets.length) as [VerifyingStream, ...VerifyingStream[]];
    this.inFlight++;
    try {
      const variants = targets.map(([key, t], i) => {
        const p = recompressStream(feeds[i]!, this.dest, w.layer, t.algorithm, t.level, { ...(this.opts.workers !== undefined && { workers: this.opts.workers }) });
        // Only read when the variant is used; its failure is reported through the copy below.
        p.catch(() => undefined);
        this.made.set(`${desc.digest} ${key}`, p);
        return p;
      });
      let first: Error | undefined;
      const settle = <T>(p: Promise<T>) => p.catch((e: unknown) => {
        // The first failure stops the read, so the other branches end (failing) instead of waiting for it.
        if (first === undefined) {
          first = e instanceof Error ? e : new Error(String(e));
          stream.destroy(first);
        }
        return undefined;
      });
      const [done] = await Promise.all([settle(put(plain)), ...variants.map(settle)]);
      if (first !== undefined) throw first;
      return done!;
    } finally {
      this.inFlight--;
    }
  }
}
