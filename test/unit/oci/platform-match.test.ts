// Instance choice as containers/image does it (§2.3): wanted-platform lists, exact matching, Docker list order,
// OCI index ranking with the zstd tie-break, and the older (≤ v5.24) rule the Debian peers use.

import { describe, expect, it } from 'vitest';
import type { Digest } from '../../../src/oci/digest.js';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../../src/oci/mediatype.js';
import {
  chooseInstance,
  chooseInstanceDockerList,
  chooseInstanceLegacy,
  chooseInstanceOCIIndex,
  cpuVariantFromCpuinfo,
  goArch,
  goOS,
  hostVariant,
  matchesPlatform,
  wantedPlatforms,
} from '../../../src/oci/platform-match.js';
import type { Descriptor, Platform } from '../../../src/oci/types.js';
import { errOf } from '../../helpers/errors.js';

const dg = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}` as Digest;

function entry(n: number, platform?: string, zstd?: 'true' | 'false'): Descriptor {
  const d: Descriptor = { mediaType: OCI_MANIFEST, digest: dg(n), size: 100 + n };
  if (platform !== undefined) {
    const [os = '', architecture = '', variant] = platform.split('/');
    const p: Platform = { os, architecture };
    if (variant !== undefined) p.variant = variant;
    d.platform = p;
  }
  if (zstd !== undefined) d.annotations = { 'io.github.containers.compression.zstd': zstd };
  return d;
}

const list = (...manifests: Descriptor[]) => ({ manifests });
const fmt = (ws: Array<{ os: string; architecture: string; variant: string }>) => ws.map((w) => `${w.os}/${w.architecture}/${w.variant}`);

describe('wantedPlatforms', () => {
  it('host arm64 with detected v8 → [arm64/v8, arm64/""]', () => {
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'arm64' }, { autoVariant: 'v8' }))).toEqual(['linux/arm64/v8', 'linux/arm64/']);
  });

  it('--arch arm64 (no variant, no auto-detection) → [arm64/"", arm64/v8]', () => {
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'arm64' }))).toEqual(['linux/arm64/', 'linux/arm64/v8']);
  });

  it('--arch arm --variant v6 → [arm/v6, arm/v5, arm/""]', () => {
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'arm', variant: 'v6' }))).toEqual(['linux/arm/v6', 'linux/arm/v5', 'linux/arm/']);
  });

  it('amd64 → [amd64/""] only (no amd64 variants)', () => {
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'amd64' }))).toEqual(['linux/amd64/']);
  });

  it('arm without a variant → "" then the whole table', () => {
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'arm' }))).toEqual(['linux/arm/', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
  });

  it('arm v7 → the table from v7 on, then ""', () => {
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'arm', variant: 'v7' }))).toEqual(['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5', 'linux/arm/']);
  });

  it('a variant the table does not know → just it, then ""', () => {
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'arm64', variant: 'v9' }))).toEqual(['linux/arm64/v9', 'linux/arm64/']);
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'amd64', variant: 'v3' }))).toEqual(['linux/amd64/v3', 'linux/amd64/']);
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'arm', variant: '7' }))).toEqual(['linux/arm/7', 'linux/arm/']);
  });

  it('an explicit variant wins over the detected one', () => {
    expect(fmt(wantedPlatforms({ os: 'linux', architecture: 'arm', variant: 'v5' }, { autoVariant: 'v7' }))).toEqual(['linux/arm/v5', 'linux/arm/']);
  });

  it('refuses a choice without os or architecture', () => {
    expect(errOf(() => wantedPlatforms({ os: '', architecture: 'amd64' })).code).toBe('E_PLATFORM_INVALID');
    expect(errOf(() => wantedPlatforms({ os: 'linux', architecture: '' })).code).toBe('E_PLATFORM_INVALID');
  });

  it('matches by exact strings only, ignoring os.version and os.features', () => {
    const w = { os: 'linux', architecture: 'arm64', variant: '' };
    expect(matchesPlatform({ os: 'linux', architecture: 'arm64' }, w)).toBe(true);
    expect(matchesPlatform({ os: 'linux', architecture: 'arm64', variant: '' }, w)).toBe(true);
    expect(matchesPlatform({ os: 'linux', architecture: 'aarch64' }, w)).toBe(false);
    expect(matchesPlatform({ os: 'Linux', architecture: 'arm64' }, w)).toBe(false);
    expect(matchesPlatform({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.1', 'os.features': ['x'] }, { os: 'windows', architecture: 'amd64', variant: '' })).toBe(true);
    expect(matchesPlatform(undefined, w)).toBe(false);
  });
});

describe('chooseInstanceDockerList', () => {
  const armList = list(entry(1, 'linux/arm/v5'), entry(2, 'linux/arm/v7'), entry(3, 'linux/arm64/v8'), entry(4, 'linux/amd64'));

  it('takes the first wanted platform in order, not the first list entry', () => {
    expect(chooseInstanceDockerList(armList, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(dg(2));
    expect(chooseInstanceDockerList(armList, { os: 'linux', architecture: 'arm', variant: 'v6' }).digest).toBe(dg(1));
    expect(chooseInstanceDockerList(armList, { os: 'linux', architecture: 'arm' }).digest).toBe(dg(2));
    expect(chooseInstanceDockerList(armList, { os: 'linux', architecture: 'arm64' }).digest).toBe(dg(3));
    expect(chooseInstanceDockerList(armList, { os: 'linux', architecture: 'amd64' }).digest).toBe(dg(4));
  });

  it('takes the first list entry among equal platforms', () => {
    expect(chooseInstanceDockerList(list(entry(1, 'linux/amd64'), entry(2, 'linux/amd64', 'true')), { os: 'linux', architecture: 'amd64' }).digest).toBe(dg(1));
  });

  it('prefers an exact variant-less entry for --arch arm64, and v8 for a detected v8 host', () => {
    const l = list(entry(1, 'linux/arm64/v8'), entry(2, 'linux/arm64'));
    expect(chooseInstanceDockerList(l, { os: 'linux', architecture: 'arm64' }).digest).toBe(dg(2));
    expect(chooseInstanceDockerList(l, { os: 'linux', architecture: 'arm64' }, { autoVariant: 'v8' }).digest).toBe(dg(1));
  });

  it('does not normalise, and names the wanted and available platforms when nothing matches', () => {
    const e = errOf(() => chooseInstanceDockerList(list(entry(1, 'linux/aarch64'), entry(2)), { os: 'linux', architecture: 'arm64' }));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.message).toBe(
      'no image found in manifest list for architecture "arm64", variant "", OS "linux" (tried linux/arm64, linux/arm64/v8); available: linux/aarch64, (no platform)',
    );
  });

  it('handles a nil list', () => {
    expect(errOf(() => chooseInstanceDockerList({ manifests: null }, { os: 'linux', architecture: 'amd64' })).message).toMatch(/available: none$/);
  });
});

describe('chooseInstanceOCIIndex', () => {
  const amd = { os: 'linux', architecture: 'amd64' };

  it('ranks by the first matching wanted platform', () => {
    const idx = list(entry(1, 'linux/arm/v5'), entry(2, 'linux/arm/v7'), entry(3, 'linux/arm'));
    expect(chooseInstanceOCIIndex(idx, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(dg(2));
    expect(chooseInstanceOCIIndex(idx, { os: 'linux', architecture: 'arm' }).digest).toBe(dg(3));
    expect(chooseInstanceOCIIndex(idx, { os: 'linux', architecture: 'arm', variant: 'v6' }).digest).toBe(dg(1));
  });

  it('keeps entries without a platform as last-resort candidates and skips non-matching ones', () => {
    const idx = list(entry(1), entry(2, 'linux/amd64'));
    expect(chooseInstanceOCIIndex(idx, amd).digest).toBe(dg(2));
    expect(chooseInstanceOCIIndex(idx, { os: 'linux', architecture: 'arm64' }).digest).toBe(dg(1));
    const e = errOf(() => chooseInstanceOCIIndex(list(entry(1, 'linux/ppc64le')), amd));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.message).toBe('no image found in image index for architecture "amd64", variant "", OS "linux" (tried linux/amd64); available: linux/ppc64le');
  });

  it('breaks a tie in favour of the zstd-annotated entry, or the gzip one with preferGzip', () => {
    const idx = list(entry(1, 'linux/amd64'), entry(2, 'linux/arm64/v8'), entry(3, 'linux/amd64', 'true'));
    expect(chooseInstanceOCIIndex(idx, amd).digest).toBe(dg(3));
    expect(chooseInstanceOCIIndex(idx, amd, { preferGzip: true }).digest).toBe(dg(1));
    expect(chooseInstance(OCI_INDEX, idx, amd).digest).toBe(dg(3));
  });

  it('only counts the annotation value "true"', () => {
    const idx = list(entry(1, 'linux/amd64'), entry(2, 'linux/amd64', 'false'));
    expect(chooseInstanceOCIIndex(idx, amd).digest).toBe(dg(1));
  });

  it('lets a better platform rank beat zstd', () => {
    const idx = list(entry(1, 'linux/arm/v6', 'true'), entry(2, 'linux/arm/v7'));
    expect(chooseInstanceOCIIndex(idx, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(dg(2));
  });

  it('falls back to list order when rank and compression tie', () => {
    expect(chooseInstanceOCIIndex(list(entry(1, 'linux/amd64', 'true'), entry(2, 'linux/amd64', 'true')), amd).digest).toBe(dg(1));
    expect(chooseInstanceOCIIndex(list(entry(1), entry(2)), amd).digest).toBe(dg(1));
    expect(chooseInstanceOCIIndex(list(entry(1), entry(2, undefined, 'true')), amd).digest).toBe(dg(2));
  });
});

describe('chooseInstanceLegacy (containers/image ≤ 5.24: skopeo 1.9, podman 4.3)', () => {
  const amd = { os: 'linux', architecture: 'amd64' };

  it('takes the first match and ignores the zstd annotation', () => {
    const idx = list(entry(1, 'linux/amd64'), entry(2, 'linux/amd64', 'true'));
    expect(chooseInstanceLegacy(idx, amd).digest).toBe(dg(1));
    expect(chooseInstanceOCIIndex(idx, amd).digest).toBe(dg(2));
  });

  it('uses wanted-platform order before list order', () => {
    const idx = list(entry(1, 'linux/arm/v5'), entry(2, 'linux/arm/v7'));
    expect(chooseInstanceLegacy(idx, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(dg(2));
  });

  it('falls back to the first entry without a platform, else fails', () => {
    const idx = list(entry(1, 'linux/s390x'), entry(2), entry(3));
    expect(chooseInstanceLegacy(idx, amd).digest).toBe(dg(2));
    expect(chooseInstanceLegacy(list(entry(1), entry(2, 'linux/amd64')), amd).digest).toBe(dg(2));
    expect(errOf(() => chooseInstanceLegacy(list(entry(1, 'linux/s390x')), amd)).code).toBe('E_NOT_FOUND');
  });
});

describe('chooseInstance', () => {
  it('dispatches on the list type', () => {
    const l = list(entry(1, 'linux/amd64'), { ...entry(2, 'linux/amd64', 'true'), mediaType: DOCKER_MANIFEST });
    expect(chooseInstance(DOCKER_LIST, l, { os: 'linux', architecture: 'amd64' }).digest).toBe(dg(1));
    expect(chooseInstance(OCI_INDEX, l, { os: 'linux', architecture: 'amd64' }).digest).toBe(dg(2));
    expect(errOf(() => chooseInstance(OCI_MANIFEST, l, { os: 'linux', architecture: 'amd64' })).code).toBe('E_UNSUPPORTED');
  });
});

describe('host facts', () => {
  const cpuinfo = (arch: string, model?: string) =>
    `processor\t: 0\n${model !== undefined ? `model name\t: ${model}\n` : ''}BogoMIPS\t: 38.40\nCPU architecture: ${arch}\nCPU variant\t: 0x0\n`;

  it('maps /proc/cpuinfo to a variant as containers/image does', () => {
    expect(cpuVariantFromCpuinfo(cpuinfo('8'))).toBe('v8');
    expect(cpuVariantFromCpuinfo(cpuinfo('AArch64'))).toBe('v8');
    expect(cpuVariantFromCpuinfo(cpuinfo('7', 'ARMv7 Processor rev 4 (v7l)'))).toBe('v7');
    expect(cpuVariantFromCpuinfo(cpuinfo('7', 'ARMv6-compatible processor rev 7 (v6l)'))).toBe('v6');
    expect(cpuVariantFromCpuinfo(cpuinfo('7'))).toBe('');
    expect(cpuVariantFromCpuinfo(cpuinfo('7M'))).toBe('v7');
    expect(cpuVariantFromCpuinfo(cpuinfo('6TEJ'))).toBe('v6');
    expect(cpuVariantFromCpuinfo(cpuinfo('5TE'))).toBe('v5');
    expect(cpuVariantFromCpuinfo(cpuinfo('4T'))).toBe('v4');
    expect(cpuVariantFromCpuinfo(cpuinfo('9'))).toBe('');
    expect(cpuVariantFromCpuinfo('processor : 0\n')).toBe('');
  });

  it('detects variants only for arm and arm64', () => {
    expect(hostVariant('darwin', 'arm64')).toBe('v8');
    expect(hostVariant('windows', 'arm')).toBe('v7');
    expect(hostVariant('windows', 'amd64')).toBe('');
    expect(hostVariant('linux', 'arm64', cpuinfo('8'))).toBe('v8');
    expect(hostVariant('linux', 'arm64')).toBe('');
    expect(hostVariant('linux', 'amd64', cpuinfo('8'))).toBe('');
  });

  it('spells Node arch/platform names as Go does', () => {
    expect(goArch('x64')).toBe('amd64');
    expect(goArch('ia32')).toBe('386');
    expect(goArch('ppc64')).toBe('ppc64le');
    expect(goArch('ppc64', 'BE')).toBe('ppc64');
    expect(goArch('arm64')).toBe('arm64');
    expect(goArch('mipsel')).toBe('mipsle');
    expect(goOS('win32')).toBe('windows');
    expect(goOS('linux')).toBe('linux');
    expect(goOS('sunos')).toBe('solaris');
  });
});
