import { access, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as OpenPGP from 'openpgp';
import type { PrivateKey, PublicKey } from 'openpgp';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { writeFileAtomic } from '../../fsutil.js';
import { encodedPart, algorithmOf, parseDigest } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import { SIMPLE_SIGNING_PAYLOAD_TYPE, parseSignaturePayload, signingIdentity, simpleSigningPayload } from './payload.js';
import type { PayloadOptions } from './payload.js';
import type { SignOutcome } from './sigstore.js';

// GPG "simple signing" (research/containers-semantics.md §7) with openpgp.js instead of gpgme: the payload is signed
// into a non-detached, binary OpenPGP signed message — what `gpg --sign` writes. containers/image tells such a blob from
// newer signature formats by its first packet (one-pass-signature here), so no armour and no detached signature.
//
// The blobs go to a "lookaside" directory tree, `<base>/<repository path>@<alg>=<hex>/signature-N` (N from 1), and a
// write replaces the whole set: signature-1..k are written, then signature-(k+1), … are removed until one is missing.
// Only file:// bases (or plain paths) can be written; http(s) lookasides are read-only by design.

/** containers/image stops reading a lookaside set after this many entries. */
export const MAX_LOOKASIDE_SIGNATURES = 128;

// openpgp is an ES module only: it is loaded by import() at its first use, which also keeps it out of every command
// that signs nothing. A static import would become a require() in the CommonJS bundle (.ci/bundle.ts), and Node
// before 20.19 cannot require an ES module.
let openpgpModule: Promise<typeof OpenPGP> | undefined;
const loadOpenpgp = (): Promise<typeof OpenPGP> => (openpgpModule ??= import('openpgp'));

function signError(message: string, cause?: unknown): PlaitError {
  return new PlaitError(ErrorCodes.E_SIGN, message, { ...(cause !== undefined && { cause }) });
}

// Argon2 runs synchronously inside openpgp's WebAssembly: a key file asking for 255 passes over 2 GiB would stall the
// whole process for minutes, beyond the reach of signals and timeouts, before "wrong passphrase" could be said. The
// bounds cover both of RFC 9580's recommended settings (t=1 p=4 m=2^21 KiB; t=3 p=4 m=2^16 KiB) and openpgp's default.
export const ARGON2_MAX = Object.freeze({ passes: 4, parallelism: 16, memoryExponent: 21 });

interface S2KParams { type?: string; t?: number; p?: number; encodedM?: number }

/** Refuse, before any key derivation, a key whose Argon2 parameters exceed ARGON2_MAX. */
function checkKdfCost(key: PrivateKey, what: string): void {
  for (const k of key.getKeys()) {
    const s2k = (k.keyPacket as unknown as { s2k?: S2KParams | null }).s2k;
    if (s2k?.type !== 'argon2') continue;
    const { t = 0, p = 0, encodedM = 0 } = s2k;
    if (t > ARGON2_MAX.passes || p > ARGON2_MAX.parallelism || encodedM > ARGON2_MAX.memoryExponent) {
      throw signError(`${what}: Argon2 parameters t=${t} p=${p} m=2^${encodedM} KiB are beyond what plait derives keys with `
        + `(t ≤ ${ARGON2_MAX.passes}, p ≤ ${ARGON2_MAX.parallelism}, m ≤ 2^${ARGON2_MAX.memoryExponent} KiB); re-encrypt the key with cheaper settings`);
    }
  }
}

/**
 * Read an OpenPGP secret key (armoured or binary) and decrypt it with `passphrase`. A wrong passphrase is E_SIGN;
 * `what` names the key in messages.
 */
export async function readGpgPrivateKey(data: string | Uint8Array, passphrase: string, what = 'GPG key'): Promise<PrivateKey> {
  const openpgp = await loadOpenpgp();
  let key: PrivateKey;
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
  try {
    key = text.includes('-----BEGIN PGP')
      ? await openpgp.readPrivateKey({ armoredKey: text })
      : await openpgp.readPrivateKey({ binaryKey: typeof data === 'string' ? Buffer.from(data, 'latin1') : data });
  } catch (e) {
    throw signError(`${what}: not an OpenPGP private key (${(e as Error).message})`, e);
  }
  if (!key.isDecrypted()) {
    checkKdfCost(key, what);
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase, config: { maxArgon2MemoryExponent: ARGON2_MAX.memoryExponent } });
    } catch (e) {
      throw signError(`${what}: wrong passphrase (or corrupt key)`, e);
    }
  }
  try {
    await key.getSigningKey();
  } catch (e) {
    throw signError(`${what}: the key has no usable signing key (${(e as Error).message})`, e);
  }
  return key;
}

/** Sign `payload` into a binary OpenPGP signed message (one-pass-signature, literal data, signature packets). */
export async function gpgSignBlob(key: PrivateKey, payload: Uint8Array): Promise<Buffer> {
  const openpgp = await loadOpenpgp();
  const message = await openpgp.createMessage({ binary: payload });
  // openpgp's return type is conditional on web-stream types this Node-only build does not load; for a Uint8Array
  // message it is a Uint8Array.
  const signed = (await openpgp.sign({ message, signingKeys: key, format: 'binary' })) as Uint8Array;
  return Buffer.from(signed);
}

/** Build and sign the simple-signing payload for `digest` under `identity`. */
export async function createSimpleSignature(key: PrivateKey, identity: string, digest: string, opts: PayloadOptions = {}): Promise<Buffer> {
  return gpgSignBlob(key, simpleSigningPayload(identity, digest, opts));
}

/** True when the blob starts like an OpenPGP signature containers/image accepts (compressed, one-pass or signature packet). */
export function looksLikeGpgSignature(blob: Uint8Array): boolean {
  const first = blob[0];
  if (first === undefined || (first & 0x80) === 0) return false;
  const tag = (first & 0x40) !== 0 ? first & 0x3f : (first >> 2) & 0x0f;
  return tag === 8 || tag === 4 || tag === 2;
}

/**
 * The payload of a signed message when one of its signatures verifies with one of `keys`; undefined otherwise
 * (including blobs that are not OpenPGP messages at all).
 */
export async function verifyGpgSignature(blob: Uint8Array, keys: PublicKey | PublicKey[]): Promise<Buffer | undefined> {
  if (!looksLikeGpgSignature(blob)) return undefined;
  const openpgp = await loadOpenpgp();
  try {
    const message = await openpgp.readMessage({ binaryMessage: blob });
    const result = await openpgp.verify({ message, verificationKeys: keys, format: 'binary' });
    for (const s of result.signatures) {
      try {
        await s.verified;
        return Buffer.from(result.data);
      } catch {
        // not this one
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * The directory a writable lookaside base names: a `file://` URL or a plain path. http(s) (and any other scheme) is
 * E_UNSUPPORTED: those are read locations, written by publishing a staging directory.
 */
export function lookasideBaseDir(base: string): string {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(base)?.[1]?.toLowerCase();
  if (scheme === undefined) return resolve(base);
  if (scheme !== 'file') {
    throw new PlaitError(
      ErrorCodes.E_UNSUPPORTED,
      `cannot write signatures to ${base}: only file:// lookaside locations can be written; configure a lookaside-staging location (file://…)`,
    );
  }
  try {
    return fileURLToPath(base);
  } catch (e) {
    throw new PlaitError(ErrorCodes.E_INVALID, `invalid lookaside URL ${base}: ${(e as Error).message}`, { cause: e });
  }
}

function checkRepoPath(repoPath: string): void {
  const parts = repoPath.split('/');
  if (repoPath === '' || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new PlaitError(ErrorCodes.E_INVALID, `unexpected repository path ${JSON.stringify(repoPath)} for signature storage`);
  }
}

/** `<base dir>/<repoPath>@<alg>=<hex>` — the directory of one manifest's signatures. */
export function lookasideDir(base: string, repoPath: string, digest: string): string {
  checkRepoPath(repoPath);
  const d = parseDigest(digest);
  return join(lookasideBaseDir(base), `${repoPath}@${algorithmOf(d)}=${encodedPart(d)}`);
}

/** The path of signature number `n` (1-based). */
export function lookasideSignaturePath(base: string, repoPath: string, digest: string, n: number): string {
  return join(lookasideDir(base, repoPath, digest), `signature-${n}`);
}

function isENOENT(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR';
}

/** The stored signature blobs for `digest`, in order, as raw bytes (an empty set when there is none). */
export async function readLookasideSignatures(base: string, repoPath: string, digest: string): Promise<Buffer[]> {
  const dir = lookasideDir(base, repoPath, digest);
  const out: Buffer[] = [];
  for (let n = 1; ; n++) {
    let blob: Buffer;
    try {
      blob = await readFile(join(dir, `signature-${n}`));
    } catch (e) {
      if (isENOENT(e)) return out;
      throw signError(`reading ${join(dir, `signature-${n}`)}: ${(e as Error).message}`, e);
    }
    if (n > MAX_LOOKASIDE_SIGNATURES) throw signError(`${dir}: more than ${MAX_LOOKASIDE_SIGNATURES} signatures`);
    out.push(blob);
  }
}

/**
 * Make `signatures` the complete signature set of `digest`: signature-1…k written (0644, directories 0755), then
 * signature-(k+1)… deleted until one is missing.
 */
export async function writeLookasideSignatures(base: string, repoPath: string, digest: string, signatures: readonly Uint8Array[]): Promise<void> {
  const dir = lookasideDir(base, repoPath, digest);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    for (const [i, sig] of signatures.entries()) {
      await writeFileAtomic(join(dir, `signature-${i + 1}`), Buffer.from(sig), 0o644);
    }
    for (let n = signatures.length + 1; ; n++) {
      try {
        await unlink(join(dir, `signature-${n}`));
      } catch (e) {
        if (isENOENT(e)) break;
        throw e;
      }
    }
  } catch (e) {
    throw signError(`writing signatures to ${dir}: ${(e as Error).message}`, e);
  }
}

/**
 * Fail (E_SIGN) unless signatures can be written under `base`: the nearest existing ancestor must be a writable
 * directory. Nothing is created.
 */
export async function checkLookasideWritable(base: string): Promise<void> {
  const dir = lookasideBaseDir(base);
  for (let p = dir; ; p = dirname(p)) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      if (isENOENT(e) && dirname(p) !== p) continue;
      throw signError(`lookaside ${base}: ${(e as Error).message}`, e);
    }
    if (!st.isDirectory()) throw signError(`lookaside ${base}: ${p} is not a directory`);
    try {
      await access(p, fsConstants.W_OK | fsConstants.X_OK);
    } catch (e) {
      throw signError(`lookaside ${base}: ${p} is not writable`, e);
    }
    return;
  }
}

/**
 * Sign `digest` under `identity` and add the signature to the lookaside set of `repoPath` under `base` — unless a
 * stored signature already verifies with this key for the same digest and identity ('present', nothing written).
 */
export async function signToLookaside(
  key: PrivateKey,
  base: string,
  repoPath: string,
  digest: string,
  identity: string,
  opts: PayloadOptions = {},
): Promise<SignOutcome> {
  const d: Digest = parseDigest(digest);
  const id = signingIdentity(identity);
  const existing = await readLookasideSignatures(base, repoPath, d);
  const pub = key.toPublic();
  for (const blob of existing) {
    const payload = await verifyGpgSignature(blob, pub);
    if (!payload) continue;
    try {
      const p = parseSignaturePayload(payload, SIMPLE_SIGNING_PAYLOAD_TYPE);
      if (p.digest === d && p.identity === id) return 'present';
    } catch {
      // a verified but unusable payload does not count
    }
  }
  const sig = await createSimpleSignature(key, id, d, opts);
  await writeLookasideSignatures(base, repoPath, d, [...existing, sig]);
  return 'added';
}
