import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { PrivateKey } from 'openpgp';
import { ErrorCodes } from '../../errors.js';
import { parseDigest } from '../../oci/digest.js';
import { parseReference } from '../../oci/reference.js';
import { VERSION } from '../../version.js';
import { readCosignPrivateKey } from './cosign-key.js';
import { MAX_KEY_FILE_BYTES, readSecretFile } from './key-file.js';
import { checkLookasideWritable, lookasideBaseDir, readGpgPrivateKey, readLookasideSignatures, signToLookaside, verifyGpgSignature } from './gpg.js';
import { SIMPLE_SIGNING_PAYLOAD_TYPE, parseSignaturePayload, signingIdentity } from './payload.js';
import { builtinLookaside, loadRegistriesD, signatureStorageFor } from './registries-d.js';
import type { RegistriesD } from './registries-d.js';
import { signSigstoreAttachment, verifySigstoreAttachment } from './sigstore.js';
import type { AttachmentImage, SignOutcome } from './sigstore.js';

// What a push calls, once per manifest it wrote (every instance, every compression variant, the list itself —
// research/containers-semantics.md §6.4). prepare() does everything that can fail for reasons unrelated to the
// registry — reading and decrypting keys, reading registries.d, checking that the lookaside can be written — so that a
// bad passphrase or an http-only lookaside stops the push before a single blob is uploaded.

export interface SignResult {
  kind: 'sigstore' | 'gpg';
  digest: string;
  identity: string;
  /** 'present': a signature by this key for this digest and identity was already there; nothing was written. */
  outcome: SignOutcome;
  /** Where the signature lives: the `.sig` tag, or the lookaside directory. */
  location: string;
}

export interface Signer {
  readonly kind: 'sigstore' | 'gpg';
  /** For logs: the key file (never key material or passphrases). */
  readonly description: string;
  /**
   * Read and decrypt the key and check the signature storage for the identities that will be signed (when known).
   * Idempotent; sign() calls it when it was not called.
   */
  prepare(identities?: readonly string[]): Promise<void>;
  /** Sign `digest` (a manifest written to `img`'s repository) under `identity` (the destination host/repo:tag). */
  sign(img: AttachmentImage, digest: string, identity: string): Promise<SignResult>;
  /** Whether a signature by this key for `digest` and `identity` is already stored (and verifies); writes nothing. */
  has(img: AttachmentImage, digest: string, identity: string): Promise<boolean>;
}

export interface SigstoreSignerOptions {
  keyFile: string;
  passphrase: string;
}

export interface GpgSignerOptions {
  keyFile: string;
  passphrase: string;
  /** Where to write (file:// URL or path); overrides registries.d. */
  lookaside?: string;
  /** registries.d directory to read when `lookaside` is not given (default: the user's, else /etc's). */
  registriesDir?: string;
}

/** host/path:tag → path (the lookaside layout leaves the registry host out). */
function repositoryOf(identity: string): string {
  const ref = parseReference(identity);
  return ref.path;
}

/** optional.creator of the payloads plait signs; GPG payloads keep the `atomic ` prefix every producer uses there. */
const SIGSTORE_CREATOR = `plait ${VERSION}`;
const GPG_CREATOR = `atomic plait ${VERSION}`;

function readKeyFile(file: string): Promise<Buffer> {
  return readSecretFile(file, { kind: 'key file', maxBytes: MAX_KEY_FILE_BYTES, code: ErrorCodes.E_SIGN });
}

/** Memoise an async step so that concurrent callers share one run and a failure can be retried. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn().catch((e: unknown) => {
      p = undefined;
      throw e;
    });
    return p;
  };
}

export function sigstoreSigner(opts: SigstoreSignerOptions): Signer {
  let key: KeyObject | undefined;
  const load = once(async () => {
    key = await readCosignPrivateKey(await readKeyFile(opts.keyFile), opts.passphrase, opts.keyFile);
    createPublicKey(key); // fails now, not halfway through a push, if the public half cannot be derived
  });
  return {
    kind: 'sigstore',
    description: `sigstore key ${opts.keyFile}`,
    async prepare(identities) {
      for (const id of identities ?? []) signingIdentity(id);
      await load();
    },
    async sign(img, digest, identity) {
      await load();
      const id = signingIdentity(identity);
      const d = parseDigest(digest);
      const outcome = await signSigstoreAttachment(img, d, id, key!, { creator: SIGSTORE_CREATOR });
      return { kind: 'sigstore', digest: d, identity: id, outcome, location: `${img.name} ${d.replace(':', '-')}.sig` };
    },
    async has(img, digest, identity) {
      await load();
      return (await verifySigstoreAttachment(img, parseDigest(digest), createPublicKey(key!), signingIdentity(identity))) !== undefined;
    },
  };
}

export function gpgSigner(opts: GpgSignerOptions): Signer {
  let key: PrivateKey | undefined;
  let registries: RegistriesD | undefined;
  const load = once(async () => {
    key = await readGpgPrivateKey(await readKeyFile(opts.keyFile), opts.passphrase, opts.keyFile);
    if (opts.lookaside !== undefined) {
      await checkLookasideWritable(opts.lookaside);
    } else {
      registries = await loadRegistriesD(opts.registriesDir);
    }
  });
  const writeBase = (identity: string): string =>
    opts.lookaside ?? (registries === undefined ? undefined : signatureStorageFor(registries, identity).lookasideStaging) ?? builtinLookaside();
  const checked = new Set<string>();
  const checkBase = async (identity: string): Promise<string> => {
    const base = writeBase(identity);
    if (!checked.has(base)) {
      lookasideBaseDir(base); // http(s) → E_UNSUPPORTED
      await checkLookasideWritable(base);
      checked.add(base);
    }
    return base;
  };
  return {
    kind: 'gpg',
    description: `GPG key ${opts.keyFile}`,
    async prepare(identities) {
      await load();
      for (const id of identities ?? []) await checkBase(signingIdentity(id));
    },
    async sign(img, digest, identity) {
      await load();
      const id = signingIdentity(identity);
      const d = parseDigest(digest);
      const base = await checkBase(id);
      // The lookaside path uses the repository the manifest was written to, as containers/image does; an OCI layout
      // has no repository, so there it is the identity's — where a reader will look once the layout is served.
      const repo = img.location.transport === 'docker' ? img.location.repository : repositoryOf(id);
      const outcome = await signToLookaside(key!, base, repo, d, id, { creator: GPG_CREATOR });
      return { kind: 'gpg', digest: d, identity: id, outcome, location: `${base} ${repo}@${d.replace(':', '=')}` };
    },
    async has(img, digest, identity) {
      await load();
      const id = signingIdentity(identity);
      const d = parseDigest(digest);
      const repo = img.location.transport === 'docker' ? img.location.repository : repositoryOf(id);
      const pub = key!.toPublic();
      for (const blob of await readLookasideSignatures(writeBase(id), repo, d)) {
        const payload = await verifyGpgSignature(blob, pub);
        if (!payload) continue;
        try {
          const p = parseSignaturePayload(payload, SIMPLE_SIGNING_PAYLOAD_TYPE);
          if (p.digest === d && p.identity === id) return true;
        } catch {
          // a verified but unusable payload does not count
        }
      }
      return false;
    },
  };
}
