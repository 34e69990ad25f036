import type { Hash, createHash as CreateHash } from 'node:crypto';
import { ErrorCodes, PlaitError } from '../errors.js';

// Content digests as the OCI image-spec defines them: `algorithm:encoded`. Only the two algorithms the spec registers
// for general use (sha256, sha512) are accepted; anything else that merely looks well-formed is refused as
// unsupported rather than invalid, so that callers can tell a typo from a digest they cannot verify.

export type Digest = `${string}:${string}`;
export type DigestAlgorithm = 'sha256' | 'sha512';

// The grammar of the image-spec "Digests" section; a string that does not match it is not a digest at all.
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

const ENCODED: Record<DigestAlgorithm, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

// node:crypto costs ~12 ms to load (it pulls in webcrypto, keys and X.509): commands that only parse digests
// (validate, help) never hash, so it is loaded at the first hash.
let hasher: typeof CreateHash | undefined;
function createHash(alg: DigestAlgorithm): Hash {
  hasher ??= process.getBuiltinModule('node:crypto').createHash;
  return hasher(alg);
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

function isAlgorithm(alg: string): alg is DigestAlgorithm {
  return alg === 'sha256' || alg === 'sha512';
}

/** Validate `s` as an OCI digest and return it typed; throws E_DIGEST_INVALID or (unknown algorithm) E_UNSUPPORTED. */
export function parseDigest(s: string): Digest {
  if (typeof s !== 'string') {
    throw new PlaitError(ErrorCodes.E_DIGEST_INVALID, `invalid digest ${String(s)}: not a string`);
  }
  if (!DIGEST_GRAMMAR.test(s)) {
    throw new PlaitError(ErrorCodes.E_DIGEST_INVALID, `invalid digest ${JSON.stringify(s)}: expected algorithm:encoded, e.g. sha256:<64 hex>`, {
      details: { digest: s },
    });
  }
  const colon = s.indexOf(':');
  const alg = s.slice(0, colon);
  const encoded = s.slice(colon + 1);
  if (!isAlgorithm(alg)) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `unsupported digest algorithm ${JSON.stringify(alg)} in ${JSON.stringify(s)}: only sha256 and sha512 are supported`, {
      details: { digest: s },
    });
  }
  if (!ENCODED[alg].test(encoded)) {
    const why =
      encoded.length !== HEX_LENGTH[alg]
        ? `got ${encoded.length} characters`
        : /^[a-fA-F0-9]+$/.test(encoded)
          ? 'upper-case hex is not allowed'
          : 'it contains characters that are not hex';
    throw new PlaitError(ErrorCodes.E_DIGEST_INVALID, `invalid digest ${JSON.stringify(s)}: ${alg} needs exactly ${HEX_LENGTH[alg]} lowercase hex characters, ${why}`, {
      details: { digest: s },
    });
  }
  return s as Digest;
}

/** True when `s` is a valid, supported digest (never throws). */
export function isDigest(s: unknown): s is Digest {
  if (typeof s !== 'string') return false;
  const colon = s.indexOf(':');
  if (colon < 0) return false;
  const alg = s.slice(0, colon);
  return isAlgorithm(alg) && ENCODED[alg].test(s.slice(colon + 1));
}

export function algorithmOf(d: Digest): DigestAlgorithm {
  return parseDigest(d).slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function encodedPart(d: Digest): string {
  return parseDigest(d).slice(d.indexOf(':') + 1);
}

function checkAlgorithm(alg: string): DigestAlgorithm {
  if (!isAlgorithm(alg)) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `unsupported digest algorithm ${JSON.stringify(alg)}: only sha256 and sha512 are supported`);
  }
  return alg;
}

/** Digest of exact bytes (strings are hashed as UTF-8); `alg` must be sha256 or sha512 (E_UNSUPPORTED otherwise). */
export function digestOf(bytes: Uint8Array | string, alg: string = 'sha256'): Digest {
  const a = checkAlgorithm(alg);
  return `${a}:${createHash(a).update(bytes).digest('hex')}`;
}

/**
 * Incremental hashing for streamed blobs: feed chunks as they pass, then read the digest and the byte count, which
 * a registry upload needs together.
 */
export class DigestingHasher {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  private bytes = 0;
  private result: Digest | undefined;

  /** `alg` is checked at run time (E_UNSUPPORTED) so that an algorithm taken from an untrusted digest can be passed. */
  constructor(alg: string = 'sha256') {
    this.algorithm = checkAlgorithm(alg);
    this.hash = createHash(this.algorithm);
  }

  update(chunk: Uint8Array | string): this {
    // Node's Hash cannot be fed after digest(); say so plainly instead of surfacing its internal error.
    if (this.result !== undefined) {
      throw new PlaitError(ErrorCodes.E_INTERNAL, 'DigestingHasher.update called after digest()');
    }
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.hash.update(buf);
    this.bytes += buf.byteLength;
    return this;
  }

  /** The digest of everything fed so far; calling it again returns the same value. */
  digest(): Digest {
    this.result ??= `${this.algorithm}:${this.hash.digest('hex')}`;
    return this.result;
  }

  get size(): number {
    return this.bytes;
  }
}

/** Throw E_DIGEST_MISMATCH unless `bytes` hash to `expected` (hashed with expected's own algorithm). */
export function verifyDigest(bytes: Uint8Array | string, expected: string): void {
  const want = parseDigest(expected);
  const actual = digestOf(bytes, algorithmOf(want));
  if (actual !== want) {
    throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `digest mismatch: expected ${want}, content hashes to ${actual}`, {
      details: { expected: want, actual },
    });
  }
}
