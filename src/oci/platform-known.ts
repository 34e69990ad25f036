import type { Platform } from './types.js';

// Which platform values exist at all, so that a typo (linux/amd46) is refused when a spec is checked instead of
// silently matching nothing. The operating systems and architectures are Go's GOOS and GOARCH lists (what every
// image's config carries); variants are those containers/image and the OCI image spec know per architecture. Values
// are checked after normalisePlatform, so the aliases it maps (x86_64, aarch64, armhf, i686, …) are accepted too.

export const KNOWN_OS: readonly string[] = [
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd',
  'openbsd', 'plan9', 'solaris', 'wasip1', 'windows', 'zos',
];

export const KNOWN_ARCHITECTURES: readonly string[] = [
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
];

const ARM64_VARIANTS = ['v8', ...Array.from({ length: 10 }, (_, i) => `v8.${i}`), 'v9', ...Array.from({ length: 6 }, (_, i) => `v9.${i}`)];

/** Variants per architecture; an architecture not listed has none. */
export const KNOWN_VARIANTS: ReadonlyMap<string, readonly string[]> = new Map([
  ['arm', ['v5', 'v6', 'v7', 'v8']],
  ['arm64', ARM64_VARIANTS],
  ['amd64', ['v1', 'v2', 'v3', 'v4']],
  ['ppc64le', ['power8', 'power9', 'power10']],
  ['ppc64', ['power8', 'power9', 'power10']],
  ['riscv64', ['rva20u64', 'rva22u64']],
]);

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest known value, when it is close enough to be a plausible typo. */
export function closest(value: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    // A transposition (amd46 → amd64) counts as one edit.
    const d = Math.min(distance(value, k), sameLetters(value, k) ? 1 : Infinity);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(value.length / 3)) ? best : undefined;
}

function sameLetters(a: string, b: string): boolean {
  return a.length === b.length && [...a].sort().join('') === [...b].sort().join('');
}

function unknown(what: string, value: string, known: readonly string[]): string {
  const guess = closest(value, known);
  return `unknown ${what} ${JSON.stringify(value)}${guess !== undefined ? ` (did you mean ${guess}?)` : ''}`;
}

export interface UnknownPlatform {
  field: 'os' | 'architecture' | 'variant';
  message: string;
}

/** What a normalised platform names that does not exist, or undefined when every part is known. */
export function unknownPlatformPart(p: Platform): UnknownPlatform | undefined {
  if (!KNOWN_OS.includes(p.os)) return { field: 'os', message: unknown('operating system', p.os, KNOWN_OS) };
  if (!KNOWN_ARCHITECTURES.includes(p.architecture)) return { field: 'architecture', message: unknown('architecture', p.architecture, KNOWN_ARCHITECTURES) };
  if (p.variant !== undefined && p.variant !== '') {
    const variants = KNOWN_VARIANTS.get(p.architecture) ?? [];
    if (variants.length === 0) return { field: 'variant', message: `unknown variant ${JSON.stringify(p.variant)}: architecture ${p.architecture} has no variants` };
    // The known variants are few and short: listing them helps more than a guess between v5 and v9.
    if (!variants.includes(p.variant)) return { field: 'variant', message: `unknown variant for ${p.architecture} ${JSON.stringify(p.variant)}; known: ${variants.join(', ')}` };
  }
  return undefined;
}
