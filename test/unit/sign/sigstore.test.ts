// Sigstore attachments against an in-memory repository (the registry round trip is in test/integration/sign.test.ts):
// the `.sig` manifest and config shapes, appending, idempotency, refusals.

import { describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { Readable } from 'node:stream';
import { isPlaitError } from '../../../src/errors.js';
import { digestOf } from '../../../src/oci/digest.js';
import type { Digest } from '../../../src/oci/digest.js';
import type {
  BlobDescriptor, BlobLocation, ImageDestination, ImageSource, ManifestBlob, PutBlobResult, ResolvedManifest,
} from '../../../src/transports/types.js';
import { PlaitError, ErrorCodes } from '../../../src/errors.js';
import {
  SIGSTORE_SIGNATURE_ANNOTATION, SIGSTORE_SIGNATURE_MEDIA_TYPE, createSigstoreSignature, putSigstoreSignature, readSigstoreAttachment,
  signSigstoreAttachment, sigstoreAttachmentTag, verifySigstoreAttachment,
} from '../../../src/core/sign/sigstore.js';

const D = `sha256:${'ef'.repeat(32)}` as Digest;
const ID = 'reg.example/ns/app:v1';

class MemoryImage implements ImageSource, ImageDestination {
  readonly name = 'docker://reg.example/ns/app:v1';
  readonly location: BlobLocation = { transport: 'docker', host: 'reg.example', repository: 'ns/app' };
  readonly tag = 'v1';
  blobs = new Map<string, Buffer>();
  manifests = new Map<string, ManifestBlob>();
  puts = 0;

  getManifest(ref?: string): Promise<ManifestBlob> {
    const m = this.manifests.get(ref ?? '');
    if (!m) return Promise.reject(new PlaitError(ErrorCodes.E_MANIFEST_UNKNOWN, `no ${ref}`));
    return Promise.resolve(m);
  }
  resolve(ref?: string): Promise<ResolvedManifest | undefined> {
    const m = this.manifests.get(ref ?? '');
    return Promise.resolve(m && { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length });
  }
  getBlob(desc: BlobDescriptor): Promise<Readable> {
    const b = this.blobs.get(desc.digest);
    if (!b) return Promise.reject(new PlaitError(ErrorCodes.E_BLOB_UNKNOWN, desc.digest));
    return Promise.resolve(Readable.from([b]));
  }
  hasBlob(desc: BlobDescriptor): Promise<boolean> {
    return Promise.resolve(this.blobs.has(desc.digest));
  }
  mountBlob(): Promise<boolean> {
    return Promise.resolve(false);
  }
  async putBlob(stream: Readable, desc: BlobDescriptor | { digest?: undefined; size: number }): Promise<PutBlobResult> {
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const b = Buffer.concat(chunks);
    const digest = digestOf(b);
    if (desc.digest && desc.digest !== digest) throw new Error('digest mismatch');
    this.blobs.set(digest, b);
    return { digest, size: b.length };
  }
  putManifest(bytes: Buffer, mediaType: string, tag?: string): Promise<Digest> {
    const digest = digestOf(bytes);
    this.puts++;
    const m = { bytes, mediaType, digest };
    this.manifests.set(digest, m);
    if (tag) this.manifests.set(tag, m);
    return Promise.resolve(digest);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;

describe('sigstore attachments', () => {
  it('tags are sha256-<hex>.sig', () => {
    expect(sigstoreAttachmentTag(D)).toBe(`sha256-${'ef'.repeat(32)}.sig`);
  });

  it('creates the .sig manifest, config and payload layer; a second sign with the same key adds nothing', async () => {
    const img = new MemoryImage();
    const key = ec();
    expect(await signSigstoreAttachment(img, D, ID, key, { creator: 'plait test', timestamp: 1 })).toBe('added');
    const m = img.manifests.get(sigstoreAttachmentTag(D))!;
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const manifest = JSON.parse(m.bytes.toString()) as {
      schemaVersion: number; mediaType: string; config: { mediaType: string; digest: string; size: number };
      layers: Array<{ mediaType: string; digest: string; size: number; annotations: Record<string, string> }>;
    };
    expect(Object.keys(manifest)).toEqual(['schemaVersion', 'mediaType', 'config', 'layers']);
    expect(manifest.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(manifest.layers).toHaveLength(1);
    const layer = manifest.layers[0]!;
    expect(layer.mediaType).toBe(SIGSTORE_SIGNATURE_MEDIA_TYPE);
    expect(Object.keys(layer)).toEqual(['mediaType', 'digest', 'size', 'annotations']);
    const payload = img.blobs.get(layer.digest)!;
    expect(payload.toString()).toBe(
      `{"critical":{"identity":{"docker-reference":"${ID}"},"image":{"docker-manifest-digest":"${D}"},"type":"cosign container image signature"},"optional":{"creator":"plait test","timestamp":1}}`,
    );
    expect(verify('sha256', payload, createPublicKey(key), Buffer.from(layer.annotations[SIGSTORE_SIGNATURE_ANNOTATION]!, 'base64'))).toBe(true);
    expect(img.blobs.get(manifest.config.digest)!.toString()).toBe(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":["${layer.digest}"]}}`);

    expect(await signSigstoreAttachment(img, D, ID, key)).toBe('present');
    expect(await signSigstoreAttachment(img, D, 'reg.example/ns/app', key)).toBe('added'); // :latest is another identity
    const other = ec();
    expect(await signSigstoreAttachment(img, D, ID, other)).toBe('added');
    const att = await readSigstoreAttachment(img, D);
    expect(att?.manifest.layers).toHaveLength(3);
    expect((att?.config.rootfs as { diff_ids: string[] }).diff_ids).toEqual(att?.manifest.layers.map((l) => l.digest));
    expect(img.puts).toBe(3);

    expect(await verifySigstoreAttachment(img, D, createPublicKey(key), ID)).toBeDefined();
    expect(await verifySigstoreAttachment(img, D, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey)).toBeUndefined();
    expect(await verifySigstoreAttachment(img, `sha256:${'00'.repeat(32)}`, createPublicKey(key))).toBeUndefined();
  });

  it('RSA keys sign with PKCS#1 v1.5 SHA-256', async () => {
    const img = new MemoryImage();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await signSigstoreAttachment(img, D, ID, privateKey);
    expect(await verifySigstoreAttachment(img, D, publicKey, ID)).toBeDefined();
  });

  it('an identical layer is not appended twice', async () => {
    const img = new MemoryImage();
    const sig = createSigstoreSignature(ec(), ID, D, { timestamp: 5 });
    expect(await putSigstoreSignature(img, D, sig)).toBe('added');
    expect(await putSigstoreSignature(img, D, sig)).toBe('present');
    expect(img.puts).toBe(1);
  });

  it('keeps unknown config fields and refuses a .sig tag that is not an OCI image manifest', async () => {
    const img = new MemoryImage();
    const config = Buffer.from('{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}');
    const cd = digestOf(config);
    img.blobs.set(cd, config);
    await img.putManifest(Buffer.from(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"${cd}","size":${config.length}},"layers":[]}`), 'application/vnd.oci.image.manifest.v1+json', sigstoreAttachmentTag(D));
    await signSigstoreAttachment(img, D, ID, ec());
    const att = await readSigstoreAttachment(img, D);
    expect(Object.keys(att!.config)).toEqual(['architecture', 'created', 'history', 'os', 'rootfs', 'config']);

    const img2 = new MemoryImage();
    await img2.putManifest(Buffer.from(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), 'application/vnd.oci.image.index.v1+json', sigstoreAttachmentTag(D));
    const e = await signSigstoreAttachment(img2, D, ID, ec()).catch((err: unknown) => err);
    expect(isPlaitError(e, 'E_SIGN')).toBe(true);
    expect((e as Error).message).toContain('not an OCI image manifest');
  });
});
