// Platform strings and the spec layer's normalisation (aliases, arm64 ≡ arm64/v8).

import { describe, expect, it } from 'vitest';
import { isPlaitError } from '../../../src/errors.js';
import { formatPlatform, normalisePlatform, parsePlatform, platformKey, samePlatform } from '../../../src/oci/platform.js';
import type { Platform } from '../../../src/oci/types.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isPlaitError(e) ? e.code : 'other';
  }
  return undefined;
}

describe('parsePlatform / formatPlatform', () => {
  it('parses os/arch[/variant] as written', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ architecture: 'amd64', os: 'linux' });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ architecture: 'arm64', os: 'linux', variant: 'v8' });
    expect(parsePlatform('linux/aarch64')).toEqual({ architecture: 'aarch64', os: 'linux' });
  });

  it('takes a Windows os.version from the string or the options', () => {
    expect(parsePlatform('windows(10.0.17763.1)/amd64')).toEqual({ architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763.1' });
    expect(parsePlatform('windows/amd64', { osVersion: '10.0.20348.2113', osFeatures: ['win32k'] })).toEqual({
      architecture: 'amd64',
      os: 'windows',
      'os.version': '10.0.20348.2113',
      'os.features': ['win32k'],
    });
  });

  it.each(['', 'linux', 'linux/amd64/v8/x', 'linux//v8', '/amd64', 'linux/amd 64', 'linux(/amd64', 'linux/'])(
    'refuses %j with E_PLATFORM_INVALID naming it',
    (s) => {
      expect(codeOf(() => parsePlatform(s))).toBe('E_PLATFORM_INVALID');
      expect(() => parsePlatform(s)).toThrow(`invalid platform ${JSON.stringify(s)}`);
    },
  );

  it('formats, with or without os.version', () => {
    expect(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    expect(formatPlatform({ os: 'linux', architecture: 'amd64', variant: '' })).toBe('linux/amd64');
    const win = parsePlatform('windows(10.0.17763.1)/amd64');
    expect(formatPlatform(win)).toBe('windows(10.0.17763.1)/amd64');
    expect(formatPlatform(win, { osVersion: false })).toBe('windows/amd64');
    expect(parsePlatform(formatPlatform(win))).toEqual(win);
  });
});

describe('normalisePlatform', () => {
  const cases: Array<[string, string]> = [
    ['linux/x86_64', 'linux/amd64'],
    ['linux/x86-64', 'linux/amd64'],
    ['Linux/AMD64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64', 'linux/arm64'],
    ['linux/arm64/8', 'linux/arm64/v8'],
    ['linux/aarch64/v8', 'linux/arm64/v8'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armv7l', 'linux/arm/v7'],
    ['linux/armv7', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/armv6l', 'linux/arm/v6'],
    ['linux/armv5', 'linux/arm/v5'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/V6', 'linux/arm/v6'],
    ['linux/arm', 'linux/arm'],
    ['linux/i386', 'linux/386'],
    ['linux/i686', 'linux/386'],
    ['linux/x86', 'linux/386'],
    ['linux/ppc64el', 'linux/ppc64le'],
    ['linux/s390x', 'linux/s390x'],
    ['macos/arm64', 'darwin/arm64'],
    ['linux/armv7l/v7', 'linux/arm/v7'],
  ];
  it.each(cases)('%s → %s', (input, want) => {
    expect(formatPlatform(normalisePlatform(parsePlatform(input)))).toBe(want);
  });

  it('keeps os.version, os.features and features', () => {
    const p: Platform = { os: 'Windows', architecture: 'x86_64', 'os.version': '10.0.1', 'os.features': ['win32k'], features: ['sse4'] };
    expect(normalisePlatform(p)).toEqual({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.1', 'os.features': ['win32k'], features: ['sse4'] });
  });

  it('refuses contradictions and empty parts', () => {
    expect(() => normalisePlatform(parsePlatform('linux/armhf/v6'))).toThrow(/armhf means variant v7, not v6/);
    expect(codeOf(() => normalisePlatform({ os: '', architecture: 'amd64' }))).toBe('E_PLATFORM_INVALID');
  });
});

describe('platformKey / samePlatform', () => {
  const p = (s: string) => parsePlatform(s);
  it('treats arm64 and arm64/v8 (and their aliases) as one platform', () => {
    expect(samePlatform(p('linux/arm64'), p('linux/arm64/v8'))).toBe(true);
    expect(samePlatform(p('linux/aarch64'), p('linux/arm64/8'))).toBe(true);
    expect(platformKey(p('linux/arm64'))).toBe('linux/arm64/v8');
  });

  it('applies the aliases', () => {
    expect(samePlatform(p('linux/x86_64'), p('linux/amd64'))).toBe(true);
    expect(samePlatform(p('linux/armhf'), p('linux/arm/v7'))).toBe(true);
    expect(samePlatform(p('linux/i686'), p('linux/386'))).toBe(true);
  });

  it('keeps distinct platforms apart', () => {
    expect(samePlatform(p('linux/amd64'), p('linux/arm64'))).toBe(false);
    expect(samePlatform(p('linux/arm/v6'), p('linux/arm/v7'))).toBe(false);
    expect(samePlatform(p('linux/arm'), p('linux/arm/v7'))).toBe(false);
    expect(samePlatform(p('linux/amd64'), p('windows/amd64'))).toBe(false);
  });

  it('includes the Windows build and os.features (in any order)', () => {
    expect(samePlatform(p('windows(10.0.17763.1)/amd64'), p('windows(10.0.20348.1)/amd64'))).toBe(false);
    expect(samePlatform(p('windows(10.0.17763.1)/amd64'), p('windows(10.0.17763.1)/x86_64'))).toBe(true);
    const a: Platform = { os: 'windows', architecture: 'amd64', 'os.features': ['b', 'a'] };
    const b: Platform = { os: 'windows', architecture: 'amd64', 'os.features': ['a', 'b'] };
    expect(samePlatform(a, b)).toBe(true);
    expect(platformKey(a)).toBe('windows/amd64/|os.features=a,b');
  });
});
