// The simple-signing payload bytes. Every expected string is written out by hand from containers/image's rules: Go
// maps (keys sorted at every level), compact, Go's HTML-safe escaping, `optional` always an object when written.

import { describe, expect, it } from 'vitest';
import { isPlaitError } from '../../../src/errors.js';
import {
  SIGSTORE_PAYLOAD_TYPE, SIMPLE_SIGNING_PAYLOAD_TYPE, parseSignaturePayload, signingIdentity, sigstorePayload, simpleSigningPayload,
} from '../../../src/core/sign/payload.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('signingIdentity', () => {
  it('expands names and adds :latest to name-only references', () => {
    expect(signingIdentity('busybox')).toBe('docker.io/library/busybox:latest');
    expect(signingIdentity('busybox:1.36')).toBe('docker.io/library/busybox:1.36');
    expect(signingIdentity('user/app')).toBe('docker.io/user/app:latest');
    expect(signingIdentity('index.docker.io/user/app:v1')).toBe('docker.io/user/app:v1');
    expect(signingIdentity('127.0.0.1:5000/ns/app')).toBe('127.0.0.1:5000/ns/app:latest');
    expect(signingIdentity(`quay.io/a/b@${D}`)).toBe(`quay.io/a/b@${D}`);
  });

  it('refuses tag+digest references', () => {
    let e: unknown;
    try {
      signingIdentity(`quay.io/a/b:v1@${D}`);
    } catch (err) {
      e = err;
    }
    expect(isPlaitError(e, 'E_INVALID')).toBe(true);
  });
});

describe('sigstorePayload', () => {
  it('writes sorted, compact JSON with the cosign type', () => {
    const got = sigstorePayload('127.0.0.1:5000/ns/app:v1', D, { creator: 'plait 0.1.0', timestamp: 1700000000 }).toString('utf8');
    expect(got).toBe(
      '{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/ns/app:v1"},' +
        `"image":{"docker-manifest-digest":"sha256:${'ab'.repeat(32)}"},` +
        '"type":"cosign container image signature"},' +
        '"optional":{"creator":"plait 0.1.0","timestamp":1700000000}}',
    );
  });

  it('expands the identity it is given', () => {
    const got = sigstorePayload('alpine', D, { timestamp: null }).toString('utf8');
    expect(got).toBe(
      `{"critical":{"identity":{"docker-reference":"docker.io/library/alpine:latest"},"image":{"docker-manifest-digest":"${D}"},` +
        '"type":"cosign container image signature"},"optional":{}}',
    );
  });

  it('escapes like Go and adds the current time when no timestamp is given', () => {
    const before = Math.floor(Date.now() / 1000);
    const got = sigstorePayload('quay.io/a/b:v1', D, { creator: 'x <&> y\u2028' }).toString('utf8');
    expect(got).toContain('"creator":"x \\u003c\\u0026\\u003e y\\u2028"');
    const ts = Number(/"timestamp":(\d+)}}$/.exec(got)?.[1]);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(before + 5);
  });

  it('refuses a non-integer timestamp and an invalid digest', () => {
    expect(() => sigstorePayload('quay.io/a/b:v1', D, { timestamp: 1.5 })).toThrow(/not an integer/);
    expect(() => sigstorePayload('quay.io/a/b:v1', 'sha256:abc')).toThrow(/invalid digest/);
  });
});

describe('simpleSigningPayload', () => {
  it('writes the atomic type, creator first, then timestamp', () => {
    const got = simpleSigningPayload('registry.example:5000/ns/app:1.0', D, { creator: 'atomic plait 0.1.0', timestamp: 1 }).toString('utf8');
    expect(got).toBe(
      '{"critical":{"identity":{"docker-reference":"registry.example:5000/ns/app:1.0"},' +
        `"image":{"docker-manifest-digest":"${D}"},"type":"atomic container signature"},` +
        '"optional":{"creator":"atomic plait 0.1.0","timestamp":1}}',
    );
  });

  it('keeps optional an object when nothing is in it', () => {
    const got = simpleSigningPayload('registry.example/app:1', D, { timestamp: null }).toString('utf8');
    expect(got.endsWith('"optional":{}}')).toBe(true);
  });
});

describe('parseSignaturePayload', () => {
  const ok = (type: string, optional = '{"creator":"c","timestamp":5}') =>
    Buffer.from(`{"critical":{"identity":{"docker-reference":"q.io/a:v1"},"image":{"docker-manifest-digest":"${D}"},"type":"${type}"},"optional":${optional}}`);

  it('reads what the builders write', () => {
    expect(parseSignaturePayload(sigstorePayload('q.io/a:v1', D, { creator: 'c', timestamp: 5 }), SIGSTORE_PAYLOAD_TYPE)).toEqual({
      type: SIGSTORE_PAYLOAD_TYPE, identity: 'q.io/a:v1', digest: D, creator: 'c', timestamp: 5,
    });
    expect(parseSignaturePayload(ok(SIMPLE_SIGNING_PAYLOAD_TYPE), SIMPLE_SIGNING_PAYLOAD_TYPE).identity).toBe('q.io/a:v1');
  });

  it('accepts optional: null only for sigstore payloads', () => {
    expect(parseSignaturePayload(ok(SIGSTORE_PAYLOAD_TYPE, 'null'), SIGSTORE_PAYLOAD_TYPE).digest).toBe(D);
    expect(() => parseSignaturePayload(ok(SIMPLE_SIGNING_PAYLOAD_TYPE, 'null'), SIMPLE_SIGNING_PAYLOAD_TYPE)).toThrow(/optional is not a JSON object/);
  });

  it('is strict about critical and the timestamp', () => {
    const extra = Buffer.from(`{"critical":{"identity":{"docker-reference":"q.io/a:v1"},"image":{"docker-manifest-digest":"${D}"},"type":"${SIGSTORE_PAYLOAD_TYPE}","x":1},"optional":null}`);
    expect(() => parseSignaturePayload(extra, SIGSTORE_PAYLOAD_TYPE)).toThrow(/unexpected x/);
    expect(() => parseSignaturePayload(ok(SIGSTORE_PAYLOAD_TYPE, '{"timestamp":1.5}'), SIGSTORE_PAYLOAD_TYPE)).toThrow(/timestamp is not an integer/);
    expect(() => parseSignaturePayload(ok(SIMPLE_SIGNING_PAYLOAD_TYPE), SIGSTORE_PAYLOAD_TYPE)).toThrow(/critical.type/);
    expect(() => parseSignaturePayload(Buffer.from('{"critical":{}}'), SIGSTORE_PAYLOAD_TYPE)).toThrow(/missing optional/);
  });
});
