import { createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { ErrorCodes, PlaitError, isPlaitError } from '../../errors.js';
import { digestOf, parseDigest } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import { goMarshal, serializeOCIManifest } from '../../oci/gojson.js';
import { parseManifest } from '../../oci/manifest.js';
import { OCI_CONFIG, OCI_MANIFEST } from '../../oci/mediatype.js';
import type { Descriptor, ImageManifest } from '../../oci/types.js';
import type { ImageDestination, ImageSource } from '../../transports/types.js';
import { readSmall } from '../../transports/registry/image.js';
import { SIGSTORE_PAYLOAD_TYPE, parseSignaturePayload, sigstorePayload, signingIdentity } from './payload.js';
import type { PayloadOptions } from './payload.js';

// Sigstore signatures made with a key file and stored the way containers/image and cosign store them
// (research/containers-semantics.md §6.3): one OCI manifest per signed digest, tagged `sha256-<hex>.sig` in the same
// repository, with one layer per signature — the payload as the blob, the base64 signature in an annotation — and the
// payload digests repeated in the config's rootfs.diff_ids.
//
// containers/image appends a new layer on every push because each payload carries a fresh timestamp; plait first looks
// for a signature that already verifies with the same key for the same digest and identity and then adds nothing, so
// reconciling an unchanged list leaves the attachment alone.

export const SIGSTORE_SIGNATURE_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGSTORE_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** A payload bigger than this is not a payload (containers/image limits them to 4 MiB too). */
const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

export type AttachmentImage = ImageSource & ImageDestination;
export type SignOutcome = 'added' | 'present';

export interface SigstoreSignature {
  payload: Buffer;
  /** Standard padded base64 of the signature bytes (DER for ECDSA, PKCS#1 v1.5 for RSA). */
  signatureB64: string;
}

export interface SigstoreVerification {
  /** The layer whose signature verified. */
  layer: Descriptor;
  payload: Buffer;
  identity: string;
}

/** The tag the attachment of `digest` lives under: `sha256-<hex>.sig`. */
export function sigstoreAttachmentTag(digest: string): string {
  return `${parseDigest(digest).replace(':', '-')}.sig`;
}

/** ECDSA (any curve) and RSA keys sign SHA-256 digests, as containers/image's key-file signer does. */
export function signSigstorePayload(key: KeyObject, payload: Buffer): string {
  if (key.type !== 'private') throw new PlaitError(ErrorCodes.E_SIGN, 'signing needs a private key');
  // Node's defaults are the wanted encodings: DER for ECDSA, PKCS#1 v1.5 for RSA.
  return cryptoSign('sha256', payload, key).toString('base64');
}

/** Build and sign the payload for `digest` under `identity`. */
export function createSigstoreSignature(key: KeyObject, identity: string, digest: string, opts: PayloadOptions = {}): SigstoreSignature {
  const payload = sigstorePayload(identity, digest, opts);
  return { payload, signatureB64: signSigstorePayload(key, payload) };
}

function verifySignatureBytes(publicKey: KeyObject, payload: Buffer, signatureB64: string): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(signatureB64)) return false;
  try {
    return cryptoVerify('sha256', payload, publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

interface Attachment {
  manifest: ImageManifest;
  /** The config as a JSON object (its unknown fields are kept when the config is rewritten). */
  config: Record<string, unknown>;
}

function signError(message: string, cause?: unknown): PlaitError {
  return new PlaitError(ErrorCodes.E_SIGN, message, { ...(cause !== undefined && { cause }) });
}

async function readBlob(img: ImageSource, desc: Descriptor, limit: number): Promise<Buffer> {
  if (desc.size > limit) throw signError(`${img.name}: blob ${desc.digest} of ${desc.size} bytes is over the ${limit}-byte limit`);
  // getBlob verifies digest and size while streaming.
  return readSmall(await img.getBlob({ digest: desc.digest, size: desc.size }), limit);
}

/** The `.sig` manifest and its config for `digest`, or undefined when there is none yet. */
export async function readSigstoreAttachment(img: ImageSource, digest: string): Promise<Attachment | undefined> {
  const tag = sigstoreAttachmentTag(digest);
  let blob;
  try {
    blob = await img.getManifest(tag);
  } catch (e) {
    if (isPlaitError(e, ErrorCodes.E_MANIFEST_UNKNOWN) || isPlaitError(e, ErrorCodes.E_NOT_FOUND)) return undefined;
    throw e;
  }
  // Anything but an OCI image manifest under that tag is not ours to rewrite (containers/image refuses it as well).
  let parsed;
  try {
    parsed = parseManifest(blob.bytes, blob.mediaType);
  } catch (e) {
    throw signError(`${img.name}: the sigstore attachment ${tag} is not a valid manifest: ${(e as Error).message}`, e);
  }
  if (parsed.kind !== 'image' || parsed.mediaType !== OCI_MANIFEST) {
    throw signError(`${img.name}: the sigstore attachment ${tag} is ${parsed.mediaType}, not an OCI image manifest`);
  }
  const configBytes = await readBlob(img, parsed.manifest.config, MAX_PAYLOAD_BYTES);
  let config: unknown;
  try {
    config = JSON.parse(configBytes.toString('utf8'));
  } catch (e) {
    throw signError(`${img.name}: the config of sigstore attachment ${tag} is not JSON`, e);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw signError(`${img.name}: the config of sigstore attachment ${tag} is not a JSON object`);
  }
  return { manifest: parsed.manifest, config: config as Record<string, unknown> };
}

async function findVerified(img: ImageSource, att: Attachment, digest: Digest, publicKey: KeyObject, identity?: string): Promise<SigstoreVerification | undefined> {
  for (const layer of att.manifest.layers) {
    const sig = layer.annotations?.[SIGSTORE_SIGNATURE_ANNOTATION];
    if (layer.mediaType !== SIGSTORE_SIGNATURE_MEDIA_TYPE || sig === undefined) continue;
    const payload = await readBlob(img, layer, MAX_PAYLOAD_BYTES);
    if (!verifySignatureBytes(publicKey, payload, sig)) continue;
    let parsed;
    try {
      parsed = parseSignaturePayload(payload, SIGSTORE_PAYLOAD_TYPE);
    } catch {
      continue; // verifies but containers/image would reject it: not a usable signature
    }
    if (parsed.digest !== digest) continue;
    if (identity !== undefined && parsed.identity !== identity) continue;
    return { layer, payload, identity: parsed.identity };
  }
  return undefined;
}

/**
 * The first signature in the attachment of `digest` that verifies with `publicKey`, whose payload parses strictly and
 * names `digest` (and `identity`, when given — compared after expanding it like a signing identity). Undefined when
 * there is no attachment or no such signature.
 */
export async function verifySigstoreAttachment(img: ImageSource, digest: string, publicKey: KeyObject, identity?: string): Promise<SigstoreVerification | undefined> {
  const d = parseDigest(digest);
  const att = await readSigstoreAttachment(img, d);
  if (!att) return undefined;
  const pub = publicKey.type === 'public' ? publicKey : createPublicKey(publicKey);
  return findVerified(img, att, d, pub, identity === undefined ? undefined : signingIdentity(identity));
}

function sameAnnotations(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ka = Object.keys(a ?? {});
  return ka.length === Object.keys(b).length && ka.every((k) => a?.[k] === b[k]);
}

/** The config with `diffID` appended to rootfs.diff_ids (and rootfs.type set), other fields kept as they were. */
function withDiffID(config: Record<string, unknown>, diffID: Digest): Record<string, unknown> {
  const rootfs = typeof config.rootfs === 'object' && config.rootfs !== null && !Array.isArray(config.rootfs) ? (config.rootfs as Record<string, unknown>) : {};
  const ids: unknown[] = Array.isArray(rootfs.diff_ids) ? (rootfs.diff_ids as unknown[]) : [];
  return { ...config, rootfs: { ...rootfs, type: typeof rootfs.type === 'string' && rootfs.type !== '' ? rootfs.type : 'layers', diff_ids: [...ids, diffID] } };
}

/** A fresh attachment config, in the field order of image-spec's Go Image struct (as containers/image writes it). */
function freshConfig(): Record<string, unknown> {
  return { architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [] } };
}

/**
 * Append `sig` to the attachment of `digest` (creating it when absent) — unless an identical layer is already there.
 * Returns 'present' in that case, 'added' after writing.
 */
export async function putSigstoreSignature(img: AttachmentImage, digest: string, sig: SigstoreSignature): Promise<SignOutcome> {
  const d = parseDigest(digest);
  const att = await readSigstoreAttachment(img, d);
  return appendLayer(img, d, att, sig);
}

async function appendLayer(img: AttachmentImage, digest: Digest, att: Attachment | undefined, sig: SigstoreSignature): Promise<SignOutcome> {
  const payloadDigest = digestOf(sig.payload);
  const annotations = { [SIGSTORE_SIGNATURE_ANNOTATION]: sig.signatureB64 };
  const layers = att?.manifest.layers ?? [];
  const identical = layers.some(
    (l) => l.mediaType === SIGSTORE_SIGNATURE_MEDIA_TYPE && l.digest === payloadDigest && l.size === sig.payload.length && sameAnnotations(l.annotations, annotations),
  );
  if (identical) return 'present';

  await img.putBlob(Readable.from([sig.payload]), { digest: payloadDigest, size: sig.payload.length });
  const layer: Descriptor = { mediaType: SIGSTORE_SIGNATURE_MEDIA_TYPE, digest: payloadDigest, size: sig.payload.length, annotations };
  const configBytes = goMarshal(withDiffID(att?.config ?? freshConfig(), payloadDigest));
  const configDigest = digestOf(configBytes);
  await img.putBlob(Readable.from([configBytes]), { digest: configDigest, size: configBytes.length });
  const manifest: ImageManifest = {
    ...(att?.manifest ?? {}),
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: att?.manifest.config.mediaType || OCI_CONFIG, digest: configDigest, size: configBytes.length },
    layers: [...layers, layer],
  };
  await img.putManifest(serializeOCIManifest(manifest), OCI_MANIFEST, sigstoreAttachmentTag(digest));
  return 'added';
}

/**
 * Sign `digest` under `identity` with `key` and store the signature as its `.sig` attachment in `img`'s repository.
 * When a signature by the same key for the same digest and identity already verifies there, nothing is written and
 * 'present' is returned.
 */
export async function signSigstoreAttachment(img: AttachmentImage, digest: string, identity: string, key: KeyObject, opts: PayloadOptions = {}): Promise<SignOutcome> {
  const d = parseDigest(digest);
  const id = signingIdentity(identity);
  const att = await readSigstoreAttachment(img, d);
  if (att && (await findVerified(img, att, d, createPublicKey(key), id))) return 'present';
  return appendLayer(img, d, att, createSigstoreSignature(key, id, d, opts));
}
