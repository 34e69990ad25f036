// Transport-qualified image names: docker://REF (the default) and oci:DIR[:NAME|:@INDEX].

import { describe, expect, it } from 'vitest';
import { formatImageName, parseImageName } from '../../../src/oci/image-name.js';
import { referenceString } from '../../../src/oci/reference.js';
import { errOf } from '../../helpers/errors.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;

function docker(s: string, opts = {}) {
  const n = parseImageName(s, opts);
  if (n.transport !== 'docker') throw new Error('not docker');
  return n;
}

describe('parseImageName: docker', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest', 'docker://busybox:latest'],
    ['docker://busybox', 'docker.io/library/busybox:latest', 'docker://busybox:latest'],
    ['docker://quay.io/ns/img:tag', 'quay.io/ns/img:tag', 'docker://quay.io/ns/img:tag'],
    ['localhost:5000/app', 'localhost:5000/app:latest', 'docker://localhost:5000/app:latest'],
    [`docker://localhost:5000/app@${DIGEST}`, `localhost:5000/app@${DIGEST}`, `docker://localhost:5000/app@${DIGEST}`],
    ['docker://[::1]:5000/app:1', '[::1]:5000/app:1', 'docker://[::1]:5000/app:1'],
  ])('%s → %s', (input, normalised, formatted) => {
    const n = docker(input);
    expect(referenceString(n.ref)).toBe(normalised);
    expect(n.unknownDigest).toBe(false);
    expect(formatImageName(n)).toBe(formatted);
  });

  it('refuses tag+digest unless asked to drop the tag', () => {
    const e = errOf(() => parseImageName(`docker://quay.io/a/b:1@${DIGEST}`));
    expect(e.code).toBe('E_REFERENCE_INVALID');
    expect(e.message).toMatch(/both a tag and a digest/);
    expect(referenceString(docker(`quay.io/a/b:1@${DIGEST}`, { dropTagIfDigested: true }).ref)).toBe(`quay.io/a/b@${DIGEST}`);
  });

  it('supports @@unknown-digest@@ write targets', () => {
    const n = docker('docker://registry.example.com/acme/web@@unknown-digest@@');
    expect(n.unknownDigest).toBe(true);
    expect(referenceString(n.ref)).toBe('registry.example.com/acme/web');
    expect(formatImageName(n)).toBe('docker://registry.example.com/acme/web@@unknown-digest@@');
    expect(errOf(() => parseImageName('docker://registry.example.com/acme/web:1@@unknown-digest@@')).message).toMatch(/neither tag nor digest/);
  });

  it('refuses docker: without //, empty names and bad references', () => {
    expect(errOf(() => parseImageName('docker:busybox')).message).toMatch(/must start with docker:\/\//);
    expect(errOf(() => parseImageName('')).code).toBe('E_REFERENCE_INVALID');
    expect(errOf(() => parseImageName('docker://')).code).toBe('E_REFERENCE_INVALID');
    expect(errOf(() => parseImageName('docker://Busybox')).message).toMatch(/must be lowercase/);
  });
});

describe('parseImageName: oci', () => {
  it('splits at the first colon: directory, then image name', () => {
    expect(parseImageName('oci:/tmp/layout')).toEqual({ transport: 'oci', dir: '/tmp/layout', image: '' });
    expect(parseImageName('oci:/tmp/layout:busybox:latest')).toEqual({ transport: 'oci', dir: '/tmp/layout', image: 'busybox:latest' });
    expect(parseImageName('oci:./rel:v1.0')).toEqual({ transport: 'oci', dir: './rel', image: 'v1.0' });
    expect(parseImageName('oci:/l:a--b/c@d+e')).toEqual({ transport: 'oci', dir: '/l', image: 'a--b/c@d+e' });
  });

  it('reads @N as a source index', () => {
    expect(parseImageName('oci:/tmp/l:@3')).toEqual({ transport: 'oci', dir: '/tmp/l', image: '', sourceIndex: 3 });
    expect(parseImageName('oci:/tmp/l:@+2')).toEqual({ transport: 'oci', dir: '/tmp/l', image: '', sourceIndex: 2 });
    expect(errOf(() => parseImageName('oci:/tmp/l:@-1')).message).toMatch(/@-1 must not be negative/);
    expect(errOf(() => parseImageName('oci:/tmp/l:@x')).message).toMatch(/@x is not an integer/);
  });

  it('refuses bad image names and an empty directory', () => {
    expect(errOf(() => parseImageName('oci:/tmp/l:bad name')).message).toMatch(/not a valid org.opencontainers.image.ref.name/);
    expect(errOf(() => parseImageName('oci:/tmp/l:-x')).code).toBe('E_REFERENCE_INVALID');
    expect(errOf(() => parseImageName('oci:/tmp/l:a---b')).code).toBe('E_REFERENCE_INVALID');
    expect(errOf(() => parseImageName('oci::tag')).message).toMatch(/directory is empty/);
  });

  it('formats as containers/image does', () => {
    expect(formatImageName(parseImageName('oci:/tmp/layout'))).toBe('oci:/tmp/layout:');
    expect(formatImageName(parseImageName('oci:/tmp/layout:app:1'))).toBe('oci:/tmp/layout:app:1');
    expect(formatImageName(parseImageName('oci:/tmp/l:@+2'))).toBe('oci:/tmp/l:@2');
  });
});

describe('parseImageName: other transports', () => {
  it.each(['containers-storage:foo', 'dir:/tmp/x', 'oci-archive:/x.tar', 'docker-archive:/x.tar', 'docker-daemon:busybox:latest'])(
    'refuses %s as unsupported',
    (s) => {
      const e = errOf(() => parseImageName(s));
      expect(e.code).toBe('E_UNSUPPORTED');
      expect(e.message).toMatch(/transport is not supported/);
    },
  );
});
