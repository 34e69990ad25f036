// Secret files (private keys, passphrase files): the group/other permission warning, bounded reads, and key-derivation
// parameters a hostile key file may ask for — refused before any derivation runs, so none of them can stall plait.

import { afterEach, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { isPlaitError } from '../../../src/errors.js';
import type { PlaitError } from '../../../src/errors.js';
import {
  MAX_KEY_FILE_BYTES, MAX_PASSPHRASE_FILE_BYTES, permissionWarning, readSecretFile, setSecretFileWarning,
} from '../../../src/core/sign/key-file.js';
import { readPassphraseFile } from '../../../src/core/sign/passphrase.js';
import { COSIGN_PRIVATE_KEY_PEM, generateCosignKeyPair, readCosignPrivateKey } from '../../../src/core/sign/cosign-key.js';
import { ARGON2_MAX, readGpgPrivateKey } from '../../../src/core/sign/gpg.js';
import { sigstoreSigner } from '../../../src/core/sign/signers.js';

const PASS = 'key-file test passphrase';
const tmp = () => mkdtemp(join(tmpdir(), 'plait-keyfile-'));

async function failure(p: Promise<unknown>): Promise<PlaitError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!isPlaitError(e)) throw new Error(`expected a PlaitError, got ${String(e)}`);
  return e;
}

let warnings: string[] = [];
const capture = () => {
  warnings = [];
  setSecretFileWarning((m) => warnings.push(m));
};
afterEach(() => setSecretFileWarning(undefined));

describe('permission warning', () => {
  it('names the file, its mode, who can access it, and the chmod that fixes it', () => {
    expect(permissionWarning('k.key', 0o100644)).toBe('k.key has mode 0644: its group and others can access this secret; make it private with: chmod 600 k.key');
    expect(permissionWarning('k.key', 0o640)).toContain('mode 0640: its group can access');
    expect(permissionWarning('k.key', 0o604)).toContain('mode 0604: others can access');
    expect(permissionWarning('k.key', 0o620)).toContain('its group'); // write access is access too, as ssh counts it
    expect(permissionWarning('k.key', 0o600)).toBeUndefined();
    expect(permissionWarning('k.key', 0o400)).toBeUndefined();
  });

  for (const [mode, warned] of [[0o644, true], [0o640, true], [0o604, true], [0o600, false], [0o400, false]] as const) {
    it(`a key file at ${mode.toString(8)} is read${warned ? ', with one warning' : ' silently'}`, async () => {
      capture();
      const f = join(await tmp(), 'cosign.key');
      await writeFile(f, 'key bytes');
      await chmod(f, mode);
      expect((await readSecretFile(f, { kind: 'key file', maxBytes: 100 })).toString()).toBe('key bytes');
      expect(warnings).toEqual(warned ? [permissionWarning(f, mode)] : []);
      // Once per file and process: a key used by ten specs is one line, not ten.
      await readSecretFile(f, { kind: 'key file', maxBytes: 100 });
      expect(warnings).toHaveLength(warned ? 1 : 0);
    });
  }

  it('the signer and the passphrase reader warn about the files they read, and still sign', async () => {
    capture();
    const dir = await tmp();
    const pair = await generateCosignKeyPair(PASS);
    const keyFile = join(dir, 'loose.key');
    const passFile = join(dir, 'loose.pass');
    await writeFile(keyFile, pair.privatePem, { mode: 0o644 });
    await writeFile(passFile, `${PASS}\n`, { mode: 0o644 });
    await chmod(keyFile, 0o644);
    await chmod(passFile, 0o644);
    const passphrase = await readPassphraseFile(passFile, '--sign-passphrase-file');
    await sigstoreSigner({ keyFile, passphrase }).prepare();
    expect(warnings).toEqual([permissionWarning(passFile, 0o644), permissionWarning(keyFile, 0o644)]);
    for (const w of warnings) expect(w).not.toContain(PASS);
  });

  it('pipes and devices are not warned about (their modes say nothing about the secret)', async () => {
    capture();
    const e = await failure(readSecretFile('/dev/zero', { kind: 'passphrase file', maxBytes: 16 }));
    expect(e.message).toBe('cannot read passphrase file /dev/zero: it is larger than 16 bytes, so it is not a passphrase file');
    expect(warnings).toEqual([]);
  });
});

describe('bounded reads', () => {
  it('an endless passphrase file (/dev/zero) is refused in one line, not read until memory runs out', async () => {
    const e = await failure(readPassphraseFile('/dev/zero', '--sign-passphrase-file'));
    expect(e.code).toBe('E_INVALID');
    expect(e.message).toBe(`--sign-passphrase-file: cannot read passphrase file /dev/zero: it is larger than ${MAX_PASSPHRASE_FILE_BYTES} bytes, so it is not a passphrase file`);
  });

  it('an endless or oversized key file is refused by the signer before any decryption', async () => {
    const e = await failure(sigstoreSigner({ keyFile: '/dev/zero', passphrase: PASS }).prepare());
    expect(e.code).toBe('E_SIGN');
    expect(e.message).toBe(`cannot read key file /dev/zero: it is larger than ${MAX_KEY_FILE_BYTES} bytes, so it is not a key file`);
    const big = join(await tmp(), 'big.key');
    await writeFile(big, Buffer.alloc(MAX_KEY_FILE_BYTES + 1, 0x41), { mode: 0o600 });
    expect((await failure(sigstoreSigner({ keyFile: big, passphrase: PASS }).prepare())).message).toContain('it is larger than');
  });

  it('missing, a directory, unreadable: one line naming the file', async () => {
    const dir = await tmp();
    expect((await failure(readPassphraseFile(join(dir, 'none'), 'x'))).message).toBe(`x: cannot read passphrase file ${join(dir, 'none')}: ENOENT`);
    expect((await failure(readPassphraseFile(dir, 'x'))).message).toBe(`x: cannot read passphrase file ${dir}: it is a directory`);
    expect((await failure(sigstoreSigner({ keyFile: dir, passphrase: '' }).prepare())).message).toBe(`cannot read key file ${dir}: it is a directory`);
  });
});

/** A cosign key whose kdf params are replaced by `params` (the sealed content stays, so only the KDF differs). */
async function cosignKeyWith(params: Record<string, unknown>): Promise<string> {
  const pair = await generateCosignKeyPair(PASS);
  const b64 = pair.privatePem.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('');
  const body = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as { kdf: { params: Record<string, unknown> } };
  body.kdf.params = params;
  return `-----BEGIN ${COSIGN_PRIVATE_KEY_PEM}-----\n${Buffer.from(JSON.stringify(body)).toString('base64')}\n-----END ${COSIGN_PRIVATE_KEY_PEM}-----\n`;
}

describe('hostile key-derivation parameters are refused before deriving anything', () => {
  // Each of these would take minutes, or gigabytes to terabytes of memory, if scrypt were run with them: the refusal
  // names the parameters (a derivation that ran would end in "wrong passphrase" instead).
  const cases: Array<[string, Record<string, unknown>]> = [
    ['N=2^30', { N: 2 ** 30, r: 8, p: 1 }],
    ['N=2^20', { N: 2 ** 20, r: 8, p: 1 }],
    ['r=2^20', { N: 32768, r: 2 ** 20, p: 1 }],
    ['p=2^20', { N: 32768, r: 8, p: 2 ** 20 }],
    ['N as a string', { N: '32768', r: 8, p: 1 }],
    ['N not a power of two', { N: 32769, r: 8, p: 1 }],
    ['no params', {}],
  ];
  for (const [name, params] of cases) {
    it(`cosign scrypt ${name}`, async () => {
      const e = await failure(readCosignPrivateKey(await cosignKeyWith(params), PASS, 'hostile.key'));
      expect(e.code).toBe('E_SIGN');
      expect(e.message).toMatch(/^hostile\.key: unsupported scrypt parameters N=\S+ r=\S+ p=\S+ \(N ∈ \{32768, 65536, 131072\}, r=8, p=1\)$/);
    });
  }

  it('the parameters cosign and skopeo write are accepted (so the refusals above are the bound, not everything)', async () => {
    const key = await readCosignPrivateKey(await cosignKeyWith({ N: 32768, r: 8, p: 1 }), PASS, 'ok.key');
    expect(key.type).toBe('private');
  });

  /** An armoured OpenPGP key protected with Argon2 (cheap settings), then relabelled with `t`, `p`, `m`. */
  async function gpgKeyWith(t: number, p: number, m: number): Promise<string> {
    const config: Partial<openpgp.Config> = { aeadProtect: true, s2kType: openpgp.enums.s2k.argon2, s2kArgon2Params: { passes: 1, parallelism: 1, memoryExponent: 10 } };
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Hostile' }], passphrase: PASS, format: 'object', config });
    for (const k of privateKey.getKeys()) Object.assign((k.keyPacket as unknown as { s2k: object }).s2k, { t, p, encodedM: m });
    return privateKey.armor();
  }

  it('an Argon2-protected GPG key within the bounds decrypts', async () => {
    const key = await readGpgPrivateKey(await gpgKeyWith(1, 1, 10), PASS, 'ok.asc');
    expect(key.isDecrypted()).toBe(true);
  });

  // t=255 over 2 GiB runs for many minutes inside openpgp's synchronous WebAssembly, where no signal or timeout reaches.
  for (const [t, p, m] of [[255, 4, ARGON2_MAX.memoryExponent], [ARGON2_MAX.passes + 1, 1, 10], [1, 1, ARGON2_MAX.memoryExponent + 1], [1, ARGON2_MAX.parallelism + 1, 10]] as const) {
    it(`GPG Argon2 t=${t} p=${p} m=2^${m} KiB`, async () => {
      const e = await failure(readGpgPrivateKey(await gpgKeyWith(t, p, m), PASS, 'hostile.asc'));
      expect(e.code).toBe('E_SIGN');
      expect(e.message).toBe(`hostile.asc: Argon2 parameters t=${t} p=${p} m=2^${m} KiB are beyond what plait derives keys with `
        + `(t ≤ ${ARGON2_MAX.passes}, p ≤ ${ARGON2_MAX.parallelism}, m ≤ 2^${ARGON2_MAX.memoryExponent} KiB); re-encrypt the key with cheaper settings`);
      expect(e.message).not.toContain(PASS);
    });
  }
});
