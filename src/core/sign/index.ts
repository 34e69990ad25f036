// Image signing: sigstore key-file signatures stored as `.sig` attachments, and GPG simple signing into a lookaside
// directory. The push uses the Signer interface; the rest is exported for tools and tests.

export {
  COSIGN_PRIVATE_KEY_PEM, SIGSTORE_PRIVATE_KEY_PEM, SCRYPT_N_ALLOWED, SCRYPT_N_DEFAULT,
  readCosignPrivateKey, encryptCosignPrivateKey, generateCosignKeyPair, publicKeyPem, readPublicKey,
} from './cosign-key.js';
export type { CosignKeyPair, EncryptOptions } from './cosign-key.js';
export {
  SIGSTORE_PAYLOAD_TYPE, SIMPLE_SIGNING_PAYLOAD_TYPE, signingIdentity, sigstorePayload, simpleSigningPayload, parseSignaturePayload,
} from './payload.js';
export type { PayloadOptions, ParsedPayload, PayloadType } from './payload.js';
export {
  SIGSTORE_SIGNATURE_MEDIA_TYPE, SIGSTORE_SIGNATURE_ANNOTATION, sigstoreAttachmentTag, signSigstorePayload, createSigstoreSignature,
  readSigstoreAttachment, verifySigstoreAttachment, putSigstoreSignature, signSigstoreAttachment,
} from './sigstore.js';
export type { AttachmentImage, SignOutcome, SigstoreSignature, SigstoreVerification } from './sigstore.js';
export {
  MAX_LOOKASIDE_SIGNATURES, readGpgPrivateKey, gpgSignBlob, createSimpleSignature, looksLikeGpgSignature, verifyGpgSignature,
  lookasideBaseDir, lookasideDir, lookasideSignaturePath, readLookasideSignatures, writeLookasideSignatures, checkLookasideWritable,
  signToLookaside,
} from './gpg.js';
export {
  defaultRegistriesDir, builtinLookaside, parseRegistriesDFile, loadRegistriesD, namespacesFor, signatureStorageFor,
} from './registries-d.js';
export type { NamespaceConfig, RegistriesD, SignatureStorage } from './registries-d.js';
export { sigstoreSigner, gpgSigner } from './signers.js';
export type { Signer, SignResult, SigstoreSignerOptions, GpgSignerOptions } from './signers.js';
export * from './passphrase.js';
export * from './key-file.js';
