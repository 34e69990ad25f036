// Known platform values: what a spec may name, and the suggestions for what it may not.

import { describe, expect, it } from 'vitest';
import { closest, unknownPlatformPart } from '../../../src/oci/platform-known.js';
import { normalisePlatform, parsePlatform } from '../../../src/oci/platform.js';

const check = (s: string) => unknownPlatformPart(normalisePlatform(parsePlatform(s)));

describe('unknownPlatformPart', () => {
  it('accepts Go platforms and the aliases containers/image normalises', () => {
    for (const p of ['linux/amd64', 'linux/x86_64', 'linux/aarch64', 'linux/armhf', 'linux/arm/7', 'linux/arm64/v8', 'linux/i686',
      'windows/amd64', 'darwin/arm64', 'linux/ppc64le', 'linux/s390x', 'linux/riscv64', 'linux/amd64/v3', 'linux/amd64/v1', 'linux/arm64/v8.2', 'wasip1/wasm']) {
      expect(check(p), p).toBeUndefined();
    }
  });

  it('names the unknown part, with a suggestion when one is close', () => {
    expect(check('linux/amd46')).toEqual({ field: 'architecture', message: 'unknown architecture "amd46" (did you mean amd64?)' });
    expect(check('linxu/amd64')).toEqual({ field: 'os', message: 'unknown operating system "linxu" (did you mean linux?)' });
    expect(check('linux/arm/v9')).toEqual({ field: 'variant', message: 'unknown variant for arm "v9"; known: v5, v6, v7, v8' });
    expect(check('linux/s390x/v2')).toEqual({ field: 'variant', message: 'unknown variant "v2": architecture s390x has no variants' });
    expect(check('linux/quantum')?.message).toBe('unknown architecture "quantum"');
  });

  it('suggests only plausible typos', () => {
    expect(closest('amd46', ['amd64', 'arm64'])).toBe('amd64');
    expect(closest('arm46', ['amd64', 'arm64'])).toBe('arm64');
    expect(closest('xyz', ['amd64', 'arm64'])).toBeUndefined();
  });
});
