// Digest parsing, hashing (one-shot and streaming) and verification.

import { describe, expect, it } from 'vitest';
import { isPlaitError } from '../../../src/errors.js';
import {
  DigestingHasher,
  algorithmOf,
  digestOf,
  encodedPart,
  isDigest,
  parseDigest,
  verifyDigest,
} from '../../../src/oci/digest.js';

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ABC_SHA256 = 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const ABC_SHA512 =
  'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isPlaitError(e) ? e.code : 'not-a-PlaitError';
  }
  return undefined;
}

describe('parseDigest', () => {
  it('accepts sha256 and sha512', () => {
    expect(parseDigest(EMPTY_SHA256)).toBe(EMPTY_SHA256);
    expect(parseDigest(ABC_SHA512)).toBe(ABC_SHA512);
  });

  it.each([
    ['no colon', 'sha256'],
    ['empty', ''],
    ['empty encoded part', 'sha256:'],
    ['empty algorithm', ':abc'],
    ['upper-case algorithm', 'SHA256:' + 'a'.repeat(64)],
    ['space', 'sha256: ' + 'a'.repeat(63)],
  ])('refuses malformed input (%s) with E_DIGEST_INVALID', (_why, s) => {
    expect(codeOf(() => parseDigest(s))).toBe('E_DIGEST_INVALID');
  });

  it('refuses short, long, upper-case and non-hex encodings naming the reason', () => {
    expect(() => parseDigest('sha256:abc')).toThrow(/needs exactly 64 lowercase hex characters, got 3 characters/);
    expect(() => parseDigest('sha256:' + 'a'.repeat(65))).toThrow(/got 65 characters/);
    expect(() => parseDigest('sha256:' + 'A'.repeat(64))).toThrow(/upper-case hex is not allowed/);
    expect(() => parseDigest('sha256:' + 'g'.repeat(64))).toThrow(/not hex/);
    expect(() => parseDigest('sha512:' + 'a'.repeat(64))).toThrow(/sha512 needs exactly 128/);
    expect(codeOf(() => parseDigest('sha256:' + 'A'.repeat(64)))).toBe('E_DIGEST_INVALID');
  });

  it('refuses well-formed digests of other algorithms as unsupported', () => {
    expect(codeOf(() => parseDigest('sha384:' + 'a'.repeat(96)))).toBe('E_UNSUPPORTED');
    expect(codeOf(() => parseDigest('blake3:' + 'a'.repeat(64)))).toBe('E_UNSUPPORTED');
    expect(codeOf(() => parseDigest('multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8'))).toBe('E_UNSUPPORTED');
    expect(() => parseDigest('sha384:' + 'a'.repeat(96))).toThrow(/unsupported digest algorithm "sha384"/);
  });

  it('isDigest answers without throwing', () => {
    expect(isDigest(EMPTY_SHA256)).toBe(true);
    expect(isDigest('sha256:abc')).toBe(false);
    expect(isDigest('sha384:' + 'a'.repeat(96))).toBe(false);
    expect(isDigest(42)).toBe(false);
    expect(isDigest(undefined)).toBe(false);
  });

  it('splits into algorithm and encoded part', () => {
    expect(algorithmOf(ABC_SHA512)).toBe('sha512');
    expect(encodedPart(EMPTY_SHA256)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(codeOf(() => algorithmOf('nope:x'))).toBe('E_UNSUPPORTED');
  });
});

describe('digestOf / DigestingHasher', () => {
  it('hashes known vectors', () => {
    expect(digestOf(new Uint8Array())).toBe(EMPTY_SHA256);
    expect(digestOf(Buffer.from('abc'))).toBe(ABC_SHA256);
    expect(digestOf('abc')).toBe(ABC_SHA256);
    expect(digestOf('abc', 'sha512')).toBe(ABC_SHA512);
  });

  it('refuses unknown algorithms', () => {
    expect(codeOf(() => digestOf('abc', 'md5'))).toBe('E_UNSUPPORTED');
    expect(codeOf(() => new DigestingHasher('sha1'))).toBe('E_UNSUPPORTED');
  });

  it('streaming equals one-shot, whatever the chunking, and counts bytes', () => {
    const data = Buffer.alloc(100_003);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    for (const chunk of [1, 7, 4096, 65536, data.length]) {
      const h = new DigestingHasher();
      for (let off = 0; off < data.length; off += chunk) h.update(data.subarray(off, off + chunk));
      expect(h.size).toBe(data.length);
      expect(h.digest()).toBe(digestOf(data));
    }
    const h512 = new DigestingHasher('sha512');
    h512.update('a').update('bc');
    expect(h512.digest()).toBe(ABC_SHA512);
    expect(h512.size).toBe(3);
  });

  it('digest() is stable, and update() after it fails clearly', () => {
    const h = new DigestingHasher();
    expect(h.digest()).toBe(EMPTY_SHA256);
    expect(h.digest()).toBe(EMPTY_SHA256);
    expect(() => h.update('x')).toThrow(/after digest\(\)/);
  });
});

describe('verifyDigest', () => {
  it('passes for matching content, with either algorithm', () => {
    expect(() => verifyDigest(Buffer.from('abc'), ABC_SHA256)).not.toThrow();
    expect(() => verifyDigest('abc', ABC_SHA512)).not.toThrow();
  });

  it('throws E_DIGEST_MISMATCH naming both digests', () => {
    let err: unknown;
    try {
      verifyDigest(Buffer.from('abd'), ABC_SHA256);
    } catch (e) {
      err = e;
    }
    expect(isPlaitError(err, 'E_DIGEST_MISMATCH')).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toContain(ABC_SHA256);
    expect(msg).toContain(digestOf('abd'));
    expect(msg.split('\n')).toHaveLength(1);
  });

  it('refuses an invalid expected digest before hashing', () => {
    expect(codeOf(() => verifyDigest('abc', 'sha256:xyz'))).toBe('E_DIGEST_INVALID');
  });
});
