// Cosign-format key files: round trips for every accepted scrypt N, refusals with one clear line, and no secret in any
// message.

import { describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { isPlaitError } from '../../../src/errors.js';
import type { PlaitError } from '../../../src/errors.js';
import {
  COSIGN_PRIVATE_KEY_PEM, SIGSTORE_PRIVATE_KEY_PEM, encryptCosignPrivateKey, generateCosignKeyPair, readCosignPrivateKey, readPublicKey,
} from '../../../src/core/sign/cosign-key.js';

const PASS = 'correct horse battery staple';

function pemBody(pem: string): Record<string, unknown> {
  const b64 = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('');
  return JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as Record<string, unknown>;
}

async function failure(p: Promise<unknown>): Promise<PlaitError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!isPlaitError(e)) throw new Error(`expected a PlaitError, got ${String(e)}`);
  return e;
}

describe('generateCosignKeyPair / readCosignPrivateKey', () => {
  for (const n of [32768, 65536, 131072]) {
    it(`round trip with scrypt N=${n}`, async () => {
      const pair = await generateCosignKeyPair(PASS, { scryptN: n });
      expect(pair.privatePem.startsWith(`-----BEGIN ${COSIGN_PRIVATE_KEY_PEM}-----\n`)).toBe(true);
      expect(pair.privatePem.endsWith(`-----END ${COSIGN_PRIVATE_KEY_PEM}-----\n`)).toBe(true);
      // Go's pem.Encode folds at 64 columns.
      for (const line of pair.privatePem.split('\n')) expect(line.length).toBeLessThanOrEqual(64);
      const body = pemBody(pair.privatePem);
      expect(Object.keys(body)).toEqual(['kdf', 'cipher', 'ciphertext']);
      expect(body.kdf).toMatchObject({ name: 'scrypt', params: { N: n, r: 8, p: 1 } });
      expect(Buffer.from((body.kdf as { salt: string }).salt, 'base64')).toHaveLength(32);
      expect(body.cipher).toMatchObject({ name: 'nacl/secretbox' });
      expect(Buffer.from((body.cipher as { nonce: string }).nonce, 'base64')).toHaveLength(24);
      expect(pair.publicPem.startsWith('-----BEGIN PUBLIC KEY-----\n')).toBe(true);

      const key = await readCosignPrivateKey(pair.privatePem, PASS, 'test.key');
      expect(key.asymmetricKeyType).toBe('ec');
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      const pub = readPublicKey(pair.publicPem);
      const sig = sign('sha256', Buffer.from('payload'), key);
      expect(verify('sha256', Buffer.from('payload'), pub, sig)).toBe(true);
      expect(createPublicKey(key).export({ type: 'spki', format: 'pem' })).toBe(pair.publicPem);
    });
  }

  it('generates N=32768 by default (the only N Debian peers read)', async () => {
    const pair = await generateCosignKeyPair(PASS);
    expect((pemBody(pair.privatePem).kdf as { params: { N: number } }).params.N).toBe(32768);
  });

  it('reads the ENCRYPTED SIGSTORE PRIVATE KEY type and Buffers too, and an empty passphrase is a passphrase', async () => {
    const pair = await generateCosignKeyPair('', { pemType: SIGSTORE_PRIVATE_KEY_PEM });
    expect(pair.privatePem).toContain(`BEGIN ${SIGSTORE_PRIVATE_KEY_PEM}`);
    const key = await readCosignPrivateKey(Buffer.from(pair.privatePem), '');
    expect(key.type).toBe('private');
  });

  it('a wrong passphrase is E_SIGN "…: wrong passphrase (or corrupt key)" and names neither passphrase', async () => {
    const pair = await generateCosignKeyPair(PASS);
    const e = await failure(readCosignPrivateKey(pair.privatePem, 'not-the-passphrase', 'keys/cosign.key'));
    expect(e.code).toBe('E_SIGN');
    expect(e.message).toBe('keys/cosign.key: wrong passphrase (or corrupt key)');
    expect(e.message).not.toContain('not-the-passphrase');
    expect(e.message).not.toContain(PASS);
  });

  it('accepts RSA and P-384 / P-521 keys', async () => {
    for (const k of [
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey,
    ]) {
      const pem = await encryptCosignPrivateKey(k, PASS);
      const back = await readCosignPrivateKey(pem, PASS);
      expect(back.asymmetricKeyType).toBe(k.asymmetricKeyType);
    }
  });

  it('refuses an Ed25519 key sealed the same way, in one line', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = await encryptCosignPrivateKey(privateKey, PASS);
    const e = await failure(readCosignPrivateKey(pem, PASS, 'ed.key'));
    expect(e.code).toBe('E_SIGN');
    expect(e.message).toBe('ed.key: unsupported key type ed25519 (ECDSA P-256/P-384/P-521 or RSA keys only)');
  });

  it('refuses other curves', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const e = await failure(readCosignPrivateKey(await encryptCosignPrivateKey(privateKey, PASS), PASS, 'k.key'));
    expect(e.message).toBe('k.key: unsupported ECDSA curve secp256k1 (P-256, P-384 or P-521 only)');
  });

  it('refuses scrypt parameters outside the whitelist, other PEM types, non-PEM input', async () => {
    const pair = await generateCosignKeyPair(PASS);
    const body = pemBody(pair.privatePem);
    (body.kdf as { params: { N: number } }).params.N = 16384;
    const tampered = `-----BEGIN ${COSIGN_PRIVATE_KEY_PEM}-----\n${Buffer.from(JSON.stringify(body)).toString('base64')}\n-----END ${COSIGN_PRIVATE_KEY_PEM}-----\n`;
    const e1 = await failure(readCosignPrivateKey(tampered, PASS, 'k'));
    expect(e1.code).toBe('E_SIGN');
    expect(e1.message).toContain('unsupported scrypt parameters N=16384 r=8 p=1');

    const plain = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const e2 = await failure(readCosignPrivateKey(plain, PASS, 'k'));
    expect(e2.message).toContain('PEM type "PRIVATE KEY" is not an encrypted cosign key');
    const e3 = await failure(readCosignPrivateKey('hello', PASS, 'k'));
    expect(e3.message).toBe('k: not a PEM file');
  });

  it('refuses N values it cannot generate', async () => {
    const e = await failure(generateCosignKeyPair(PASS, { scryptN: 1024 }));
    expect(e.code).toBe('E_INVALID');
  });
});
