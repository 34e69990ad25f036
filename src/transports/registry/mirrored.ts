import type { Readable } from 'node:stream';
import { PlaitError, ErrorCodes, isPlaitError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { BlobDescriptor, BlobLocation, ManifestBlob, ResolvedManifest } from '../types.js';
import { isInterrupted } from '../interrupt.js';
import { debug } from '../debug.js';
import { RegistryImage } from './image.js';
import type { RegistryClientOptions } from './client.js';

// A source with registries.conf mirrors, read as containers/image reads one: the first place — each mirror in
// order, the primary location last — that serves the reference's own manifest is the one every later read of this
// image goes to (its instances, configs, layers, referrers), so one image never mixes bytes from two registries. A
// mirror that fails in any way (refused connection, 404, 5xx, a wrong digest, no access) is passed over; only when the
// primary fails too is the pull refused, with the primary's error and what each mirror said. Every digest is
// verified by the RegistryImage that reads it, whichever registry that is. What writes (a destination's part) goes to
// the primary location only: a mirror is never written to.

export interface PullCandidate {
  /** The image as reached at this place, for every read once it is chosen. */
  image: RegistryImage;
  /** The same place with no retries, for the first read: a dead mirror should be passed over at once. */
  probe: RegistryImage;
  mirror: boolean;
}

export class MirroredImage extends RegistryImage {
  private chosen: RegistryImage | undefined;
  private own: ManifestBlob | undefined;
  private selecting: Promise<RegistryImage> | undefined;
  private readonly candidates: PullCandidate[];

  /** `candidates` end with the primary location, opened with `primaryOpts`. */
  constructor(candidates: PullCandidate[], primaryOpts: RegistryClientOptions) {
    const primary = candidates[candidates.length - 1]!;
    super(primary.image.ref, primaryOpts);
    this.candidates = candidates;
  }

  /** Where blobs come from, for mounts: the chosen place (the primary until one is chosen). */
  override get location(): BlobLocation {
    return this.chosen && this.chosen !== this.candidates[this.candidates.length - 1]!.image ? this.chosen.location : super.location;
  }

  private select(): Promise<RegistryImage> {
    this.selecting ??= this.trySources();
    return this.selecting;
  }

  private async trySources(): Promise<RegistryImage> {
    const failed: string[] = [];
    for (const c of this.candidates) {
      const at = `${c.image.ref.host}/${c.image.ref.repository}`;
      debug(`${this.name}: trying ${c.mirror ? 'mirror' : 'primary location'} ${at}`);
      try {
        this.own = await (c.mirror ? c.probe : c.image).getManifest();
      } catch (e) {
        if (isInterrupted() || !isPlaitError(e) || c === this.candidates[this.candidates.length - 1]) {
          if (isPlaitError(e) && failed.length > 0) {
            throw new PlaitError(e.code, `${e.message} (mirrors also failed: ${failed.join('; ')})`, { cause: e, retryable: e.retryable, details: e.details });
          }
          throw e;
        }
        debug(`${this.name}: mirror ${at} failed: ${e.message}`);
        failed.push(e.message);
        continue;
      }
      debug(`${this.name}: served by ${c.mirror ? 'mirror' : 'primary location'} ${at} (${this.own.digest})`);
      this.chosen = c.image;
      return c.image;
    }
    throw new PlaitError(ErrorCodes.E_INTERNAL, `${this.name}: no place to read it from`);
  }

  /** Whether `ref` names the reference's own manifest (already read when the place was chosen). */
  private isOwn(ref: string | undefined, img: RegistryImage): boolean {
    return ref === undefined || ref === this.own?.digest || ref === (img.ref.digest ?? img.ref.tag);
  }

  override async getManifest(ref?: string): Promise<ManifestBlob> {
    const img = await this.select();
    return this.isOwn(ref, img) ? this.own! : img.getManifest(ref);
  }

  override async resolve(ref?: string): Promise<ResolvedManifest | undefined> {
    let img: RegistryImage;
    try {
      img = await this.select();
    } catch (e) {
      // Nowhere has it and the primary says it does not exist: what HEAD's 404 means for an image without mirrors.
      if (ref === undefined && isPlaitError(e) && (e.details as { status?: number } | undefined)?.status === 404) return undefined;
      throw e;
    }
    if (!this.isOwn(ref, img)) return img.resolve(ref);
    return { digest: this.own!.digest, mediaType: this.own!.mediaType, size: this.own!.bytes.length };
  }

  override async getBlob(desc: BlobDescriptor): Promise<Readable> {
    return (await this.select()).getBlob(desc);
  }

  override async referrers(digest: Digest, artifactType?: string): Promise<{ index: ManifestBlob | undefined; api: boolean }> {
    return (await this.select()).referrers(digest, artifactType);
  }

  override async listTags(): Promise<string[]> {
    return (await this.select()).listTags();
  }
}
