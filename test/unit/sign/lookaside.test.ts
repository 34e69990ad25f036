// GPG simple signing into a lookaside directory: the path layout, set replacement, file modes, http refusal, and
// idempotent re-signing. Keys are made with openpgp in the test.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as openpgp from 'openpgp';
import { isPlaitError } from '../../../src/errors.js';
import {
  createSimpleSignature, looksLikeGpgSignature, lookasideBaseDir, lookasideDir, lookasideSignaturePath, readGpgPrivateKey,
  readLookasideSignatures, signToLookaside, verifyGpgSignature, writeLookasideSignatures,
} from '../../../src/core/sign/gpg.js';
import { gpgSigner } from '../../../src/core/sign/signers.js';
import { parseSignaturePayload, SIMPLE_SIGNING_PAYLOAD_TYPE } from '../../../src/core/sign/payload.js';

const D = `sha256:${'cd'.repeat(32)}`;
const tmp = () => mkdtemp(join(tmpdir(), 'plait-lookaside-'));
let oldUmask = 0;
let armored = '';
let key: openpgp.PrivateKey;
let other: openpgp.PrivateKey;

beforeAll(async () => {
  oldUmask = process.umask(0o022);
  const gen = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Plait Test', email: 't@example.invalid' }], passphrase: 'pw', format: 'armored' });
  armored = gen.privateKey;
  key = await readGpgPrivateKey(armored, 'pw', 'test.asc');
  const o = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Other' }], format: 'object' });
  other = o.privateKey;
});
afterAll(() => {
  process.umask(oldUmask);
});

describe('lookaside paths', () => {
  it('puts the repository path without the host, @alg=hex, signature-N', () => {
    expect(lookasideDir('/srv/sigs', 'ns/app', D)).toBe(`/srv/sigs/ns/app@sha256=${'cd'.repeat(32)}`);
    expect(lookasideSignaturePath('file:///srv/sigs', 'library/busybox', D, 1)).toBe(`/srv/sigs/library/busybox@sha256=${'cd'.repeat(32)}/signature-1`);
    expect(lookasideSignaturePath('file:///srv/sigs/', 'a', D, 12)).toBe(`/srv/sigs/a@sha256=${'cd'.repeat(32)}/signature-12`);
  });

  it('refuses http(s) with E_UNSUPPORTED and path traversal with E_INVALID', () => {
    for (const base of ['https://sigs.example.com', 'http://x/y']) {
      let e: unknown;
      try {
        lookasideBaseDir(base);
      } catch (err) {
        e = err;
      }
      expect(isPlaitError(e, 'E_UNSUPPORTED')).toBe(true);
      expect((e as Error).message).toContain('configure a lookaside-staging location');
    }
    expect(() => lookasideDir('/x', '../etc', D)).toThrow(/unexpected repository path/);
  });
});

describe('writeLookasideSignatures / readLookasideSignatures', () => {
  it('writes 1..k with 0644 files and 0755 directories, and a shorter set deletes the rest', async () => {
    const base = await tmp();
    const url = pathToFileURL(base).href;
    await writeLookasideSignatures(url, 'ns/app', D, [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    const dir = lookasideDir(base, 'ns/app', D);
    expect((await readdir(dir)).sort()).toEqual(['signature-1', 'signature-2', 'signature-3']);
    expect((await stat(join(dir, 'signature-2'))).mode & 0o777).toBe(0o644);
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
    expect((await stat(join(base, 'ns'))).mode & 0o777).toBe(0o755);
    expect((await readLookasideSignatures(base, 'ns/app', D)).map(String)).toEqual(['a', 'b', 'c']);

    // A stray signature-5 after a gap is not part of the set and is left alone, as containers/image does.
    await writeFile(join(dir, 'signature-5'), 'stray');
    await writeLookasideSignatures(base, 'ns/app', D, [Buffer.from('z')]);
    expect((await readdir(dir)).sort()).toEqual(['signature-1', 'signature-5']);
    expect((await readLookasideSignatures(base, 'ns/app', D)).map(String)).toEqual(['z']);
    expect(await readLookasideSignatures(base, 'ns/none', D)).toEqual([]);
  });
});

describe('GPG simple signatures', () => {
  it('are binary signed messages whose first packet is a one-pass signature, verifiable with the public key', async () => {
    const blob = await createSimpleSignature(key, 'reg.example/ns/app:v1', D, { timestamp: 7 });
    expect(blob[0]).toBe(0xc4); // new-format packet header, tag 4 = one-pass signature
    expect(looksLikeGpgSignature(blob)).toBe(true);
    const payload = await verifyGpgSignature(blob, key.toPublic());
    expect(payload?.toString()).toBe(
      `{"critical":{"identity":{"docker-reference":"reg.example/ns/app:v1"},"image":{"docker-manifest-digest":"${D}"},"type":"atomic container signature"},"optional":{"timestamp":7}}`,
    );
    expect(await verifyGpgSignature(blob, other.toPublic())).toBeUndefined();
    expect(await verifyGpgSignature(Buffer.from('\u0000sigstore\n{}'), key.toPublic())).toBeUndefined();
  });

  it('a wrong passphrase is E_SIGN', async () => {
    const e = await readGpgPrivateKey(armored, 'wrong', 'release.asc').catch((err: unknown) => err);
    expect(isPlaitError(e, 'E_SIGN')).toBe(true);
    expect((e as Error).message).toBe('release.asc: wrong passphrase (or corrupt key)');
  });

  it('re-signing the same digest and identity with the same key adds nothing', async () => {
    const base = await tmp();
    expect(await signToLookaside(key, base, 'ns/app', D, 'reg.example/ns/app:v1')).toBe('added');
    expect(await signToLookaside(key, base, 'ns/app', D, 'reg.example/ns/app:v1')).toBe('present');
    expect(await readLookasideSignatures(base, 'ns/app', D)).toHaveLength(1);
    // Another identity or another key is another signature, appended to the set.
    expect(await signToLookaside(key, base, 'ns/app', D, 'reg.example/ns/app:v2')).toBe('added');
    expect(await signToLookaside(other, base, 'ns/app', D, 'reg.example/ns/app:v1')).toBe('added');
    const sigs = await readLookasideSignatures(base, 'ns/app', D);
    expect(sigs).toHaveLength(3);
    const first = parseSignaturePayload((await verifyGpgSignature(sigs[0]!, key.toPublic()))!, SIMPLE_SIGNING_PAYLOAD_TYPE);
    expect(first).toMatchObject({ identity: 'reg.example/ns/app:v1', digest: D });
  });
});

describe('gpgSigner.prepare', () => {
  it('fails before anything is written: wrong passphrase, http lookaside, unwritable lookaside', async () => {
    const dir = await tmp();
    const keyFile = join(dir, 'key.asc');
    await writeFile(keyFile, armored);
    const bad = await gpgSigner({ keyFile, passphrase: 'nope', lookaside: dir }).prepare().catch((e: unknown) => e);
    expect(isPlaitError(bad, 'E_SIGN')).toBe(true);
    const http = await gpgSigner({ keyFile, passphrase: 'pw', lookaside: 'https://sigs.example.com' }).prepare().catch((e: unknown) => e);
    expect(isPlaitError(http, 'E_UNSUPPORTED')).toBe(true);
    const regd = join(dir, 'registries.d');
    await mkdir(regd);
    await writeFile(join(regd, 'x.yaml'), 'docker:\n  reg.example/ns:\n    lookaside: https://sigs.example.com\n');
    const viaRegd = await gpgSigner({ keyFile, passphrase: 'pw', registriesDir: regd }).prepare(['reg.example/ns/app:v1']).catch((e: unknown) => e);
    expect(isPlaitError(viaRegd, 'E_UNSUPPORTED')).toBe(true);
    await writeFile(join(dir, 'file'), 'x');
    const notDir = await gpgSigner({ keyFile, passphrase: 'pw', lookaside: join(dir, 'file', 'sub') }).prepare().catch((e: unknown) => e);
    expect(isPlaitError(notDir, 'E_SIGN')).toBe(true);
    await expect(gpgSigner({ keyFile, passphrase: 'pw', lookaside: join(dir, 'new', 'deeper') }).prepare()).resolves.toBeUndefined();
    expect(await readdir(dir)).not.toContain('new'); // checking creates nothing
    expect((await readFile(keyFile, 'utf8')).length).toBeGreaterThan(0);
  });
});
