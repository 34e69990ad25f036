import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';

// The small interface both transports implement, so the core never cares whether bytes live in a registry or in an
// OCI layout. Manifests travel as exact bytes with their media type and digest; blobs travel as verified streams.

export interface ManifestBlob {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface BlobDescriptor {
  digest: Digest;
  /** Known size, or -1 when unknown. A known size is enforced. */
  size: number;
}

export interface ResolvedManifest {
  digest: Digest;
  mediaType: string;
  size: number;
}

/** Where a blob already lives, so a destination on the same registry can mount it instead of copying. */
export interface BlobLocation {
  transport: 'docker' | 'oci';
  /** For docker: the registry host; for oci: the layout directory. */
  host: string;
  repository: string;
}

export interface ImageSource {
  /** Transport-qualified name as users write it: docker://host/repo:tag, oci:/dir:ref. */
  readonly name: string;
  readonly location: BlobLocation;
  /** The reference's own tag or digest, or `ref` when given (a tag or a digest in the same repository). */
  getManifest(ref?: string): Promise<ManifestBlob>;
  /** Digest, type and size without the body (HEAD for registries). Undefined when it does not exist. */
  resolve(ref?: string): Promise<ResolvedManifest | undefined>;
  /** A stream of the blob's bytes that errors with E_DIGEST_MISMATCH (before its end) if they are not the digest. */
  getBlob(desc: BlobDescriptor): Promise<Readable>;
  /** Where it is cheap (a layout): throw unless the blob is there to be read, so a copy can refuse before it writes. */
  checkBlob?(desc: BlobDescriptor): Promise<void>;
  close(): Promise<void>;
}

export interface PutBlobResult {
  digest: Digest;
  size: number;
}

export interface ImageDestination {
  readonly name: string;
  readonly location: BlobLocation;
  /** Whether the blob is present (and, when size ≥ 0, of that size). */
  hasBlob(desc: BlobDescriptor): Promise<boolean>;
  /** Try to make the blob present without moving its bytes (cross-repository mount). */
  mountBlob(desc: BlobDescriptor, from: BlobLocation): Promise<boolean>;
  /** Store a blob from a stream; the digest is computed while streaming and must equal desc.digest when given. */
  putBlob(stream: Readable, desc: BlobDescriptor | { digest?: undefined; size: number }): Promise<PutBlobResult>;
  /** Digest, type and size of a manifest already there (by tag or digest), or undefined. */
  resolve(ref?: string): Promise<ResolvedManifest | undefined>;
  /** Store manifest bytes under their digest and, when `tag` is given, point the tag at them. Returns the digest. */
  putManifest(bytes: Buffer, mediaType: string, tag?: string): Promise<Digest>;
  /** The destination's own tag, or undefined for digest-only destinations. */
  readonly tag: string | undefined;
  close(): Promise<void>;
}
