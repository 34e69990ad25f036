import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { goMarshal } from '../../oci/gojson.js';

// Cosign-format private keys (research/containers-semantics.md §6.1): a PEM block whose body is a JSON document
// naming the KDF (scrypt) and the cipher (NaCl secretbox); the sealed plaintext is a PKCS#8 DER private key.
// containers/image HEAD reads both PEM types below; Debian's containers/image (5.22/5.23) reads only the COSIGN one and
// only scrypt N=32768, so that is what generateCosignKeyPair writes.

export const COSIGN_PRIVATE_KEY_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';
export const SIGSTORE_PRIVATE_KEY_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';

/** The scrypt cost parameters current sigstore accepts; r and p are fixed. */
export const SCRYPT_N_ALLOWED: readonly number[] = Object.freeze([32768, 65536, 131072]);
const SCRYPT_R = 8;
const SCRYPT_P = 1;
/** What generateCosignKeyPair uses: the only N that Debian's peers can read. */
export const SCRYPT_N_DEFAULT = 32768;
const KEY_BYTES = 32;
const SALT_BYTES = 32;
const NONCE_BYTES = 24;

const ALLOWED_CURVES = new Map([
  ['prime256v1', 'P-256'],
  ['secp384r1', 'P-384'],
  ['secp521r1', 'P-521'],
]);

export interface CosignKeyPair {
  /** PEM `ENCRYPTED COSIGN PRIVATE KEY` (or the SIGSTORE type when asked for). */
  privatePem: string;
  /** PEM `PUBLIC KEY` (PKIX). */
  publicPem: string;
}

export interface EncryptOptions {
  /** scrypt N; one of SCRYPT_N_ALLOWED. Default 32768. */
  scryptN?: number;
  pemType?: typeof COSIGN_PRIVATE_KEY_PEM | typeof SIGSTORE_PRIVATE_KEY_PEM;
}

function signError(what: string, reason: string, cause?: unknown): PlaitError {
  return new PlaitError(ErrorCodes.E_SIGN, `${what}: ${reason}`, { ...(cause !== undefined && { cause }) });
}

function deriveKey(passphrase: string, salt: Uint8Array, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Node's default maxmem (32 MiB) is below what N=32768, r=8 needs (128·N·r bytes); allow twice that.
    scrypt(Buffer.from(passphrase, 'utf8'), salt, KEY_BYTES, { N: n, r: SCRYPT_R, p: SCRYPT_P, maxmem: 256 * n * SCRYPT_R }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Go's pem.Encode: base64 body folded at 64 columns. */
function pemEncode(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

/** The first PEM block of `text`: its type and decoded body (headers such as Proc-Type are skipped, as Go does). */
function pemDecode(text: string): { type: string; body: Buffer } | undefined {
  const m = /-----BEGIN ([^-\r\n]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return undefined;
  const lines = m[2]!.split(/\r?\n/);
  // RFC 1421 headers end at the first blank line; without a colon in the first line there are none.
  const start = lines[0]?.includes(':') ? lines.findIndex((l) => l.trim() === '') + 1 : 0;
  const b64 = lines.slice(start).join('').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  return { type: m[1]!, body: Buffer.from(b64, 'base64') };
}

function b64Field(v: unknown, name: string, what: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw signError(what, `corrupt key: ${name} is not base64`);
  return Buffer.from(v, 'base64');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Accept only the key types containers/image can sign with; say which one it was otherwise. */
function checkKeyType(key: KeyObject, what: string): KeyObject {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return key;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    if (ALLOWED_CURVES.has(curve)) return key;
    throw new PlaitError(ErrorCodes.E_SIGN, `${what}: unsupported ECDSA curve ${curve} (P-256, P-384 or P-521 only)`);
  }
  throw new PlaitError(ErrorCodes.E_SIGN, `${what}: unsupported key type ${type ?? 'unknown'} (ECDSA P-256/P-384/P-521 or RSA keys only)`);
}

/**
 * Decrypt a cosign/sigstore private key (PEM text) with `passphrase` (may be empty) and return it as a KeyObject.
 * `what` names the key in messages (usually its file name); no key material ever appears in a message.
 */
export async function readCosignPrivateKey(pem: string | Buffer, passphrase: string, what = 'private key'): Promise<KeyObject> {
  if (typeof passphrase !== 'string') throw signError(what, 'private key passphrase not provided');
  const block = pemDecode(typeof pem === 'string' ? pem : pem.toString('utf8'));
  if (!block) throw signError(what, 'not a PEM file');
  if (block.type !== COSIGN_PRIVATE_KEY_PEM && block.type !== SIGSTORE_PRIVATE_KEY_PEM) {
    throw signError(what, `PEM type "${block.type}" is not an encrypted cosign key (want "${SIGSTORE_PRIVATE_KEY_PEM}" or "${COSIGN_PRIVATE_KEY_PEM}")`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(block.body.toString('utf8'));
  } catch {
    throw signError(what, 'corrupt key: the PEM body is not JSON');
  }
  if (!isRecord(doc) || !isRecord(doc.kdf) || !isRecord(doc.cipher)) throw signError(what, 'corrupt key: missing kdf or cipher');
  const { kdf, cipher } = doc;
  if (kdf.name !== 'scrypt') throw signError(what, `unsupported key derivation ${JSON.stringify(kdf.name)} (scrypt only)`);
  const params = isRecord(kdf.params) ? kdf.params : {};
  const n = params.N;
  if (typeof n !== 'number' || !SCRYPT_N_ALLOWED.includes(n) || params.r !== SCRYPT_R || params.p !== SCRYPT_P) {
    throw signError(what, `unsupported scrypt parameters N=${String(n)} r=${String(params.r)} p=${String(params.p)} (N ∈ {${SCRYPT_N_ALLOWED.join(', ')}}, r=8, p=1)`);
  }
  if (cipher.name !== 'nacl/secretbox') throw signError(what, `unsupported cipher ${JSON.stringify(cipher.name)} (nacl/secretbox only)`);
  const salt = b64Field(kdf.salt, 'salt', what);
  const nonce = b64Field(cipher.nonce, 'nonce', what);
  const sealed = b64Field(doc.ciphertext, 'ciphertext', what);
  if (nonce.length !== NONCE_BYTES) throw signError(what, `corrupt key: nonce of ${nonce.length} bytes, want ${NONCE_BYTES}`);

  const secret = await deriveKey(passphrase, salt, n);
  const plain = nacl.secretbox.open(sealed, nonce, secret);
  secret.fill(0);
  if (!plain) throw signError(what, 'wrong passphrase (or corrupt key)');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw signError(what, 'corrupt key: the decrypted content is not a PKCS#8 private key', e);
  } finally {
    plain.fill(0);
  }
  return checkKeyType(key, what);
}

/** Seal `key` (any private KeyObject) in the cosign format. Exposed for tests and for re-encrypting keys. */
export async function encryptCosignPrivateKey(key: KeyObject, passphrase: string, opts: EncryptOptions = {}): Promise<string> {
  const n = opts.scryptN ?? SCRYPT_N_DEFAULT;
  if (!SCRYPT_N_ALLOWED.includes(n)) {
    throw new PlaitError(ErrorCodes.E_INVALID, `scrypt N=${n} is not one of ${SCRYPT_N_ALLOWED.join(', ')}`);
  }
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const secret = await deriveKey(passphrase, salt, n);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const sealed = nacl.secretbox(der, nonce, secret);
  der.fill(0);
  secret.fill(0);
  // Field order and []byte-as-base64 follow the Go struct go-securesystemslib marshals.
  const body = goMarshal({
    kdf: { name: 'scrypt', params: { N: n, r: SCRYPT_R, p: SCRYPT_P }, salt: new Uint8Array(salt) },
    cipher: { name: 'nacl/secretbox', nonce: new Uint8Array(nonce) },
    ciphertext: sealed,
  });
  return pemEncode(opts.pemType ?? COSIGN_PRIVATE_KEY_PEM, body);
}

/** The PKIX `PUBLIC KEY` PEM of a private or public key. */
export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

/** Read a PKIX `PUBLIC KEY` PEM (what cosign.pub holds). */
export function readPublicKey(pem: string | Buffer, what = 'public key'): KeyObject {
  try {
    return checkKeyType(createPublicKey({ key: pem, format: 'pem' }), what);
  } catch (e) {
    if (e instanceof PlaitError) throw e;
    throw signError(what, 'not a PEM public key', e);
  }
}

/**
 * A new ECDSA P-256 key pair: the private key sealed as `ENCRYPTED COSIGN PRIVATE KEY` with scrypt N=32768, r=8, p=1
 * (readable by every containers/image since 5.22 and by cosign), the public key as PKIX PEM.
 * `opts` is for tests (other N, the SIGSTORE PEM type).
 */
export async function generateCosignKeyPair(passphrase: string, opts: EncryptOptions = {}): Promise<CosignKeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privatePem: await encryptCosignPrivateKey(privateKey, passphrase, opts), publicPem: publicKeyPem(publicKey) };
}
