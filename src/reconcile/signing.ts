import { PlaitError, ErrorCodes } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { parseManifestList } from '../oci/manifest.js';
import { openImage } from '../transports/index.js';
import type { ImageDestination, ImageSource } from '../transports/index.js';
import type { Signer } from '../core/sign/index.js';
import { destinationRef } from './paths.js';
import type { ReconcileSpec } from './model.js';

// Every tag a list is pushed or moved under needs its own signatures: a policy such as matchRepoDigestOrExact accepts
// a signature only when its docker-reference is the tag that was pulled. These helpers say which identity a tag is
// signed under, which manifests a signature set covers, and whether a tag's set is complete.

export function signs(spec: ReconcileSpec): boolean {
  return (spec.signatures?.sigstore.length ?? 0) + (spec.signatures?.gpg.length ?? 0) > 0;
}

/** The identity (host/repo:tag) a tag's signatures name: signatures.identity, else the destination repository. */
export function identityFor(spec: ReconcileSpec, tag: string): string {
  const repo = spec.signatures?.identity ?? spec.destination.image.replace(/^docker:\/\//, '');
  return `${repo}:${tag}`;
}

/** Every manifest a push signs: each entry of the list (clones included) and the list itself. */
export function signedDigests(listBytes: Buffer, listDigest: Digest): Digest[] {
  const { index } = parseManifestList(listBytes);
  return [...(index.manifests ?? []).map((d) => d.digest), listDigest];
}

type AttachmentImage = ImageSource & ImageDestination;

function imageFor(spec: ReconcileSpec, tag: string): AttachmentImage {
  return openImage(destinationRef(spec.destination.image, tag), spec.transport, 'destination');
}

/** The tags (of `tags`) for which some signer lacks a signature of some manifest of the list. */
export async function unsignedTags(spec: ReconcileSpec, signers: Signer[], tags: string[], listBytes: Buffer, listDigest: Digest): Promise<string[]> {
  const digests = signedDigests(listBytes, listDigest);
  const out: string[] = [];
  for (const tag of tags) {
    const img = imageFor(spec, tag);
    let complete = true;
    for (const s of signers) {
      for (const d of digests) {
        if (!(await s.has(img, d, identityFor(spec, tag)))) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
    }
    if (!complete) out.push(tag);
  }
  return out;
}

/** Sign every manifest of the list under each of `tags` (idempotent: what is there already is not written again). */
export async function signTags(spec: ReconcileSpec, signers: Signer[], tags: string[], listBytes: Buffer, listDigest: Digest): Promise<void> {
  const digests = signedDigests(listBytes, listDigest);
  for (const tag of tags) {
    const img = imageFor(spec, tag);
    for (const s of signers) for (const d of digests) await s.sign(img, d, identityFor(spec, tag));
  }
}

/** The spec's signers, with passphrases read now (and never printed). */
export async function signersFor(spec: ReconcileSpec): Promise<Signer[]> {
  const out: Signer[] = [];
  if (!spec.signatures || (spec.signatures.sigstore.length === 0 && spec.signatures.gpg.length === 0)) return out;
  const { sigstoreSigner, gpgSigner, passphraseFrom } = await import('../core/sign/index.js');
  for (const [i, s] of (spec.signatures?.sigstore ?? []).entries()) {
    if (!s.privateKey.file) throw new PlaitError(ErrorCodes.E_SIGN, `${spec.origin}: spec.signatures.sigstore[${i}].privateKey: the CLI needs a file`);
    out.push(sigstoreSigner({ keyFile: s.privateKey.file, passphrase: await passphraseFrom(s.passphrase, `${spec.origin}: spec.signatures.sigstore[${i}].passphrase`) }));
  }
  for (const [i, g] of (spec.signatures?.gpg ?? []).entries()) {
    if (!g.key.file) throw new PlaitError(ErrorCodes.E_SIGN, `${spec.origin}: spec.signatures.gpg[${i}].key: the CLI needs a file`);
    out.push(gpgSigner({ keyFile: g.key.file, passphrase: await passphraseFrom(g.passphrase, `${spec.origin}: spec.signatures.gpg[${i}].passphrase`), ...(g.lookaside && { lookaside: g.lookaside }) }));
  }
  return out;
}

