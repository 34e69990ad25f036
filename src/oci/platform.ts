import { ErrorCodes, PlaitError } from '../errors.js';
import type { Platform } from './types.js';

// Platform strings and the normalisation plait's spec layer applies to what users write (x86_64, aarch64, armhf…).
// Normalisation is deliberately NOT used when choosing an instance from a list: containers/image matches exact
// strings (see platform-match.ts), and plait must pick what podman and skopeo would pick.

export interface ParsePlatformOptions {
  /** Windows build, e.g. 10.0.20348.2113 (overrides one given in the string). */
  osVersion?: string;
  osFeatures?: string[];
}

// A component as containerd's platform specifiers allow it.
const COMPONENT = /^[A-Za-z0-9_.-]+$/;
// os, optionally followed by an OS version in parentheses (containerd's `windows(10.0.17763)/amd64` form).
const OS_PART = /^([A-Za-z0-9_.-]+)(?:\(([A-Za-z0-9_.-]*)\))?$/;

function invalid(input: string, reason: string): never {
  throw new PlaitError(ErrorCodes.E_PLATFORM_INVALID, `invalid platform ${JSON.stringify(input)}: ${reason}`, {
    details: { platform: input },
  });
}

/**
 * Parse `os/architecture[/variant]` (or `os(osversion)/architecture[/variant]`). Values are kept as written; call
 * normalisePlatform for aliases.
 */
export function parsePlatform(s: string, opts: ParsePlatformOptions = {}): Platform {
  if (typeof s !== 'string' || s === '') invalid(String(s), 'empty; expected os/architecture[/variant]');
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3) invalid(s, 'expected os/architecture[/variant], e.g. linux/arm64/v8');
  const [osPart = '', architecture = '', variant] = parts;
  const m = OS_PART.exec(osPart);
  if (m === null) invalid(s, `bad os ${JSON.stringify(osPart)}`);
  if (!COMPONENT.test(architecture)) invalid(s, `bad architecture ${JSON.stringify(architecture)}`);
  if (variant !== undefined && !COMPONENT.test(variant)) invalid(s, `bad variant ${JSON.stringify(variant)}`);
  const p: Platform = { architecture, os: m[1] ?? '' };
  const osVersion = opts.osVersion ?? m[2];
  if (osVersion !== undefined && osVersion !== '') p['os.version'] = osVersion;
  if (opts.osFeatures !== undefined && opts.osFeatures.length > 0) p['os.features'] = [...opts.osFeatures];
  if (variant !== undefined) p.variant = variant;
  return p;
}

/** `os/architecture[/variant]`, with `(os.version)` after the os when present and not disabled. */
export function formatPlatform(p: Pick<Platform, 'os' | 'architecture' | 'variant' | 'os.version'>, opts: { osVersion?: boolean } = {}): string {
  const osVersion = opts.osVersion !== false && p['os.version'] ? `(${p['os.version']})` : '';
  return `${p.os}${osVersion}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

// Architecture spellings from uname, Debian and RPM mapped to Go's GOARCH, with the variant a name implies.
const ARCH_ALIASES: ReadonlyMap<string, { architecture: string; variant?: string }> = new Map([
  ['x86_64', { architecture: 'amd64' }],
  ['x86-64', { architecture: 'amd64' }],
  ['amd64', { architecture: 'amd64' }],
  ['aarch64', { architecture: 'arm64' }],
  ['arm64', { architecture: 'arm64' }],
  ['armhf', { architecture: 'arm', variant: 'v7' }],
  ['armv7', { architecture: 'arm', variant: 'v7' }],
  ['armv7l', { architecture: 'arm', variant: 'v7' }],
  ['armv7hl', { architecture: 'arm', variant: 'v7' }],
  ['armel', { architecture: 'arm', variant: 'v6' }],
  ['armv6', { architecture: 'arm', variant: 'v6' }],
  ['armv6l', { architecture: 'arm', variant: 'v6' }],
  ['armv5', { architecture: 'arm', variant: 'v5' }],
  ['armv5l', { architecture: 'arm', variant: 'v5' }],
  ['i386', { architecture: '386' }],
  ['i486', { architecture: '386' }],
  ['i586', { architecture: '386' }],
  ['i686', { architecture: '386' }],
  ['x86', { architecture: '386' }],
  ['ppc64el', { architecture: 'ppc64le' }],
  ['mips64el', { architecture: 'mips64le' }],
]);

const OS_ALIASES: ReadonlyMap<string, string> = new Map([['macos', 'darwin']]);

function normaliseVariant(architecture: string, variant: string): string {
  let v = variant.toLowerCase();
  if (/^\d+$/.test(v)) v = `v${v}`;
  // amd64 v1 is the baseline ISA, the same thing as no variant at all.
  if (architecture === 'amd64' && v === 'v1') v = '';
  return v;
}

/**
 * Canonical spelling of a platform: lower-case os and architecture, GOARCH names for the common aliases
 * (x86_64→amd64, aarch64→arm64, armhf/armv7l→arm/v7, armel/armv6l→arm/v6, i386/i686/x86→386…), numeric variants
 * as vN. arm64 without a variant stays without one here; platformKey treats it as v8.
 */
export function normalisePlatform(p: Platform): Platform {
  const os = p.os.trim().toLowerCase();
  const arch = p.architecture.trim().toLowerCase();
  if (os === '' || arch === '') {
    invalid(formatPlatform(p), 'os and architecture must not be empty');
  }
  const alias = ARCH_ALIASES.get(arch);
  const architecture = alias?.architecture ?? arch;
  const given = normaliseVariant(architecture, p.variant ?? '');
  if (alias?.variant !== undefined && given !== '' && given !== alias.variant) {
    invalid(formatPlatform(p), `architecture ${p.architecture} means variant ${alias.variant}, not ${given}`);
  }
  const variant = given !== '' ? given : (alias?.variant ?? '');
  const out: Platform = { architecture, os: OS_ALIASES.get(os) ?? os };
  if (p['os.version']) out['os.version'] = p['os.version'];
  if (p['os.features'] && p['os.features'].length > 0) out['os.features'] = [...p['os.features']];
  if (variant !== '') out.variant = variant;
  if (p.features && p.features.length > 0) out.features = [...p.features];
  return out;
}

/**
 * An identity string for "the same platform" in plait's spec semantics (upsert by platform): normalised, arm64 and
 * arm64/v8 equal, and os.version / os.features included because Windows images for different builds are distinct
 * platforms that belong side by side in one list.
 */
export function platformKey(p: Platform): string {
  const n = normalisePlatform(p);
  const variant = n.variant ?? (n.architecture === 'arm64' ? 'v8' : '');
  let key = `${n.os}/${n.architecture}/${variant}`;
  if (n['os.version']) key += `|os.version=${n['os.version']}`;
  if (n['os.features']) key += `|os.features=${[...n['os.features']].sort().join(',')}`;
  return key;
}

export function samePlatform(a: Platform, b: Platform): boolean {
  return platformKey(a) === platformKey(b);
}
