// Docker reference parsing and normalisation (distribution/reference ParseNormalizedNamed semantics). The valid
// cases' normalised forms were cross-checked against distribution/reference itself.

import { describe, expect, it } from 'vitest';
import { isPlaitError } from '../../../src/errors.js';
import {
  dropTagIfDigested,
  familiarName,
  familiarString,
  isNameOnly,
  nameOnly,
  parseReference,
  referenceName,
  referenceString,
  registryHost,
  repositoryPath,
  withDefaultTag,
  withDigest,
  withTag,
} from '../../../src/oci/reference.js';

const HEX = 'b'.repeat(64);
const DIGEST = `sha256:${HEX}`;
const LONG_TAG = 'T' + 'a'.repeat(127);

// input → [normalised String(), FamiliarString()]
const VALID: Array<[string, string, string]> = [
  ['busybox', 'docker.io/library/busybox', 'busybox'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox', 'busybox'],
  ['docker.io/busybox', 'docker.io/library/busybox', 'busybox'],
  ['docker.io/library/busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['index.docker.io/busybox', 'docker.io/library/busybox', 'busybox'],
  ['index.docker.io/foo/bar', 'docker.io/foo/bar', 'foo/bar'],
  ['foo/bar', 'docker.io/foo/bar', 'foo/bar'],
  ['foo/bar/baz', 'docker.io/foo/bar/baz', 'foo/bar/baz'],
  ['docker.io/library/foo/bar', 'docker.io/library/foo/bar', 'library/foo/bar'],
  ['quay.io/ns/img:tag', 'quay.io/ns/img:tag', 'quay.io/ns/img:tag'],
  ['example.com/library/foo', 'example.com/library/foo', 'example.com/library/foo'],
  ['example.com/foo', 'example.com/foo', 'example.com/foo'],
  ['EXAMPLE.com/foo', 'EXAMPLE.com/foo', 'EXAMPLE.com/foo'],
  ['Foo/bar', 'Foo/bar', 'Foo/bar'],
  ['localhost/foo', 'localhost/foo', 'localhost/foo'],
  ['localhost:5000/foo/bar:v1', 'localhost:5000/foo/bar:v1', 'localhost:5000/foo/bar:v1'],
  ['localhost:5000', 'docker.io/library/localhost:5000', 'localhost:5000'],
  ['myhost:5000/app', 'myhost:5000/app', 'myhost:5000/app'],
  ['127.0.0.1:5000/app', '127.0.0.1:5000/app', '127.0.0.1:5000/app'],
  ['[::1]:5000/app:tag', '[::1]:5000/app:tag', '[::1]:5000/app:tag'],
  ['localhost:65535/app', 'localhost:65535/app', 'localhost:65535/app'],
  ['[2001:db8::1]/app', '[2001:db8::1]/app', '[2001:db8::1]/app'],
  [`registry.example.com:5000/acme/web@${DIGEST}`, `registry.example.com:5000/acme/web@${DIGEST}`, `registry.example.com:5000/acme/web@${DIGEST}`],
  [`registry.example.com/acme/web:1.8@${DIGEST}`, `registry.example.com/acme/web:1.8@${DIGEST}`, `registry.example.com/acme/web:1.8@${DIGEST}`],
  [`ubuntu@${DIGEST}`, `docker.io/library/ubuntu@${DIGEST}`, `ubuntu@${DIGEST}`],
  [`ubuntu:22.04@sha512:${'c'.repeat(128)}`, `docker.io/library/ubuntu:22.04@sha512:${'c'.repeat(128)}`, `ubuntu:22.04@sha512:${'c'.repeat(128)}`],
  ['foo/a.b-c_d__e---f', 'docker.io/foo/a.b-c_d__e---f', 'foo/a.b-c_d__e---f'],
  ['foo:Tag_1.0-rc', 'docker.io/library/foo:Tag_1.0-rc', 'foo:Tag_1.0-rc'],
  [`foo:${LONG_TAG}`, `docker.io/library/foo:${LONG_TAG}`, `foo:${LONG_TAG}`],
  ['a/b/c/d/e/f', 'docker.io/a/b/c/d/e/f', 'a/b/c/d/e/f'],
  [`sha256:${HEX}`, `docker.io/library/sha256:${HEX}`, `sha256:${HEX}`],
  ['registry-1.docker.io/library/busybox', 'registry-1.docker.io/library/busybox', 'registry-1.docker.io/library/busybox'],
  ['a-b.example.com:443/x/y:z', 'a-b.example.com:443/x/y:z', 'a-b.example.com:443/x/y:z'],
  [`example.com/${'a'.repeat(255)}`, `example.com/${'a'.repeat(255)}`, `example.com/${'a'.repeat(255)}`],
];

// input → expected code and a fragment of the reason
const INVALID: Array<[string, string, RegExp]> = [
  ['', 'E_REFERENCE_INVALID', /empty reference/],
  ['Busybox', 'E_REFERENCE_INVALID', /repository name \(library\/Busybox\) must be lowercase/],
  ['UPPER:tag', 'E_REFERENCE_INVALID', /must be lowercase/],
  ['foo/Bar', 'E_REFERENCE_INVALID', /repository name \(foo\/Bar\) must be lowercase/],
  ['docker.io/Foo', 'E_REFERENCE_INVALID', /must be lowercase/],
  ['example.com/Foo:tag', 'E_REFERENCE_INVALID', /repository name \(Foo\) must be lowercase/],
  [HEX, 'E_REFERENCE_INVALID', /cannot specify 64-byte hexadecimal strings/],
  ['foo:', 'E_REFERENCE_INVALID', /invalid tag ""/],
  ['foo:-bad', 'E_REFERENCE_INVALID', /invalid tag "-bad"/],
  ['foo:.bad', 'E_REFERENCE_INVALID', /invalid tag ".bad"/],
  [`foo:${LONG_TAG}x`, 'E_REFERENCE_INVALID', /invalid tag/],
  ['foo:bar:baz', 'E_REFERENCE_INVALID', /invalid tag "bar:baz"/],
  ['foo:ta/g', 'E_REFERENCE_INVALID', /invalid path component "foo:ta"|invalid/],
  ['foo@sha256:abc', 'E_REFERENCE_INVALID', /invalid digest "sha256:abc"/],
  ['foo@', 'E_REFERENCE_INVALID', /invalid digest ""/],
  [`foo@sha256:${'A'.repeat(64)}`, 'E_REFERENCE_INVALID', /upper-case hex is not allowed/],
  [`foo@sha256:${'a'.repeat(63)}`, 'E_REFERENCE_INVALID', /got 63 characters/],
  [`foo@md5:${'a'.repeat(32)}`, 'E_UNSUPPORTED', /unsupported digest algorithm "md5"/],
  [`foo@sha384:${'a'.repeat(96)}`, 'E_UNSUPPORTED', /unsupported digest algorithm "sha384"/],
  ['foo//bar', 'E_REFERENCE_INVALID', /empty component/],
  ['foo/bar/', 'E_REFERENCE_INVALID', /empty component/],
  ['/foo', 'E_REFERENCE_INVALID', /empty component/],
  ['docker.io/', 'E_REFERENCE_INVALID', /empty component/],
  ['foo bar', 'E_REFERENCE_INVALID', /white space/],
  ['-foo', 'E_REFERENCE_INVALID', /invalid path component "-foo"/],
  ['foo-/bar', 'E_REFERENCE_INVALID', /invalid path component "foo-"/],
  ['foo/bar_', 'E_REFERENCE_INVALID', /invalid path component "bar_"/],
  ['foo/a...b', 'E_REFERENCE_INVALID', /invalid path component "a...b"/],
  ['foo/a___b', 'E_REFERENCE_INVALID', /invalid path component "a___b"/],
  ['foo/b@r', 'E_REFERENCE_INVALID', /invalid digest "r"/],
  ['a_b.example.com/foo', 'E_REFERENCE_INVALID', /invalid registry host "a_b.example.com"/],
  ['-example.com/foo', 'E_REFERENCE_INVALID', /invalid registry host "-example.com"/],
  ['example.com:port/foo', 'E_REFERENCE_INVALID', /invalid registry host "example.com:port"/],
  ['127.0.0.1:99999/foo', 'E_REFERENCE_INVALID', /invalid registry host "127\.0\.0\.1:99999": the port must be from 1 to 65535/],
  ['localhost:0/foo:v1', 'E_REFERENCE_INVALID', /invalid registry host "localhost:0": the port/],
  ['[::1]:65536/foo', 'E_REFERENCE_INVALID', /invalid registry host "\[::1\]:65536": the port/],
  ['[::1/foo', 'E_REFERENCE_INVALID', /invalid registry host/],
  [`example.com/${'a'.repeat(256)}`, 'E_REFERENCE_INVALID', /must not be more than 255 characters/],
  ['foo\u00e9', 'E_REFERENCE_INVALID', /invalid path component/],
];

describe('parseReference: valid references', () => {
  it.each(VALID)('%s → %s', (input, normalised, familiar) => {
    const ref = parseReference(input);
    expect(referenceString(ref)).toBe(normalised);
    expect(familiarString(ref)).toBe(familiar);
  });
});

describe('parseReference: invalid references', () => {
  it.each(INVALID)('%j is refused', (input, code, reason) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(isPlaitError(err)).toBe(true);
    expect((err as { code: string }).code).toBe(code);
    const msg = (err as Error).message;
    expect(msg).toMatch(reason);
    expect(msg).toContain(JSON.stringify(input));
    expect(msg).not.toContain('\n');
  });
});

describe('reference parts and forms', () => {
  it('splits domain, path, tag and digest', () => {
    const ref = parseReference(`localhost:5000/acme/web:1.0@${DIGEST}`);
    expect(ref).toEqual({ domain: 'localhost:5000', path: 'acme/web', tag: '1.0', digest: DIGEST });
    expect(referenceName(ref)).toBe('localhost:5000/acme/web');
    expect(repositoryPath(ref)).toBe('acme/web');
    expect(familiarName(ref)).toBe('localhost:5000/acme/web');
  });

  it('has no tag or digest properties when none were given', () => {
    const ref = parseReference('busybox');
    expect(ref).toEqual({ domain: 'docker.io', path: 'library/busybox' });
    expect('tag' in ref).toBe(false);
    expect(isNameOnly(ref)).toBe(true);
    expect(familiarName(ref)).toBe('busybox');
  });

  it('adds latest only through withDefaultTag, and only to name-only references', () => {
    expect(referenceString(withDefaultTag(parseReference('busybox')))).toBe('docker.io/library/busybox:latest');
    expect(referenceString(withDefaultTag(parseReference('busybox:1')))).toBe('docker.io/library/busybox:1');
    expect(referenceString(withDefaultTag(parseReference(`busybox@${DIGEST}`)))).toBe(`docker.io/library/busybox@${DIGEST}`);
  });

  it('withTag / withDigest keep the other part, nameOnly and dropTagIfDigested strip', () => {
    const ref = parseReference(`quay.io/a/b@${DIGEST}`);
    expect(referenceString(withTag(ref, 'v2'))).toBe(`quay.io/a/b:v2@${DIGEST}`);
    expect(referenceString(withDigest(parseReference('quay.io/a/b:v2'), DIGEST))).toBe(`quay.io/a/b:v2@${DIGEST}`);
    expect(referenceString(nameOnly(withTag(ref, 'v2')))).toBe('quay.io/a/b');
    expect(referenceString(dropTagIfDigested(withTag(ref, 'v2')))).toBe(`quay.io/a/b@${DIGEST}`);
    expect(referenceString(dropTagIfDigested(parseReference('quay.io/a/b:v2')))).toBe('quay.io/a/b:v2');
    expect(() => withTag(ref, '-x')).toThrow(/invalid tag "-x"/);
    expect(() => withDigest(ref, 'sha256:zz')).toThrow(/invalid digest/);
  });

  it('maps docker.io to its API host and leaves others alone', () => {
    expect(registryHost(parseReference('busybox'))).toBe('registry-1.docker.io');
    expect(registryHost(parseReference('index.docker.io/x/y'))).toBe('registry-1.docker.io');
    expect(registryHost(parseReference('[::1]:5000/app'))).toBe('[::1]:5000');
    expect(registryHost(parseReference('quay.io/x/y'))).toBe('quay.io');
  });
});

