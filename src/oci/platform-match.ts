import { ErrorCodes, PlaitError } from '../errors.js';
import { ANNOTATION_ZSTD_INSTANCE, DOCKER_LIST, OCI_INDEX } from './mediatype.js';
import { formatPlatform } from './platform.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

// Choosing one instance of a list for a platform, as containers/image does (internal/pkg/platform/platform_matcher.go,
// internal/manifest/{docker_schema2_list,oci_index}.go). Matching is exact string equality of os, architecture and
// variant; os.version and os.features play no part; there is no alias normalisation.

export interface PlatformChoice {
  os: string;
  architecture: string;
  /** An explicit variant choice (SystemContext.VariantChoice). */
  variant?: string;
}

export interface WantedPlatform {
  os: string;
  architecture: string;
  /** "" = an entry without a variant. */
  variant: string;
}

export interface WantedOptions {
  /**
   * The variant detected on the host (see hostVariant). containers/image only auto-detects when the architecture is
   * the runtime's own and was not chosen explicitly, so pass this only in that case; an explicit `variant` wins.
   */
  autoVariant?: string;
}

export interface ChooseOptions extends WantedOptions {
  /** ChooseInstanceByCompression's PreferGzipInstances; plain ChooseInstance prefers zstd (false). */
  preferGzip?: boolean;
}

// Known variants per architecture, most capable first; architectures without variants (amd64 included) are absent.
const COMPATIBILITY: ReadonlyMap<string, readonly string[]> = new Map([
  ['arm', ['v8', 'v7', 'v6', 'v5']],
  ['arm64', ['v8']],
]);

function checkChoice(choice: PlatformChoice): void {
  if (!choice || typeof choice.os !== 'string' || choice.os === '' || typeof choice.architecture !== 'string' || choice.architecture === '') {
    throw new PlaitError(ErrorCodes.E_PLATFORM_INVALID, `platform choice needs a non-empty os and architecture, got ${JSON.stringify(choice)}`);
  }
}

/**
 * The ordered candidates containers/image tries. With a variant: the compatibility table from that variant on (or
 * just the variant if the table does not know it), then "". Without: "" first, then the whole table.
 */
export function wantedPlatforms(choice: PlatformChoice, opts: WantedOptions = {}): WantedPlatform[] {
  checkChoice(choice);
  const wantedVariant = choice.variant || opts.autoVariant || '';
  const table = COMPATIBILITY.get(choice.architecture);
  let variants: string[];
  if (wantedVariant !== '') {
    const at = table ? table.indexOf(wantedVariant) : -1;
    variants = at >= 0 && table ? [...table.slice(at), ''] : [wantedVariant, ''];
  } else {
    variants = ['', ...(table ?? [])];
  }
  return variants.map((variant) => ({ os: choice.os, architecture: choice.architecture, variant }));
}

export function matchesPlatform(p: Platform | undefined, wanted: WantedPlatform): boolean {
  return (p?.architecture ?? '') === wanted.architecture && (p?.os ?? '') === wanted.os && (p?.variant ?? '') === wanted.variant;
}

function isZstdInstance(d: Descriptor): boolean {
  return d.annotations?.[ANNOTATION_ZSTD_INSTANCE] === 'true';
}

function noMatch(kind: string, wanted: WantedPlatform[], entries: readonly Descriptor[]): never {
  const first = wanted[0] ?? { os: '', architecture: '', variant: '' };
  const available = entries.map((d) =>
    d.platform && (d.platform.os !== '' || d.platform.architecture !== '') ? formatPlatform(d.platform) : '(no platform)',
  );
  const tried = wanted.map((w) => formatPlatform(w)).join(', ');
  throw new PlaitError(
    ErrorCodes.E_NOT_FOUND,
    `no image found in ${kind} for architecture ${JSON.stringify(first.architecture)}, variant ${JSON.stringify(first.variant)}, OS ${JSON.stringify(first.os)} (tried ${tried}); available: ${available.length > 0 ? available.join(', ') : 'none'}`,
    { details: { wanted: wanted.map((w) => formatPlatform(w)), available } },
  );
}

type Entries = Pick<ImageIndex, 'manifests'>;

/** Docker manifest list: the first wanted platform (in order) decides; the first list entry matching it wins. */
export function chooseInstanceDockerList(list: Entries, sys: PlatformChoice, opts: WantedOptions = {}): Descriptor {
  const wanted = wantedPlatforms(sys, opts);
  const entries = list.manifests ?? [];
  for (const w of wanted) {
    const hit = entries.find((d) => matchesPlatform(d.platform, w));
    if (hit) return hit;
  }
  return noMatch('manifest list', wanted, entries);
}

/**
 * OCI image index (containers/image ≥ 5.25): rank = position of the first matching wanted platform; entries without
 * a platform rank last but stay candidates; entries whose platform matches nothing are skipped. Ties go to the
 * zstd-annotated entry unless preferGzip, then to the earlier entry.
 */
export function chooseInstanceOCIIndex(index: Entries, sys: PlatformChoice, opts: ChooseOptions = {}): Descriptor {
  const wanted = wantedPlatforms(sys, opts);
  const entries = index.manifests ?? [];
  let best: { rank: number; zstd: boolean; d: Descriptor } | undefined;
  for (const d of entries) {
    let rank = Number.POSITIVE_INFINITY;
    if (d.platform !== undefined) {
      rank = wanted.findIndex((w) => matchesPlatform(d.platform, w));
      if (rank < 0) continue;
    }
    const zstd = isZstdInstance(d);
    // Entries are visited in order, so "earlier wins" is simply "replace only when strictly better".
    const better =
      best === undefined ||
      rank < best.rank ||
      (rank === best.rank && zstd !== best.zstd && (opts.preferGzip === true ? !zstd : zstd));
    if (better) best = { rank, zstd, d };
  }
  if (best) return best.d;
  return noMatch('image index', wanted, entries);
}

/**
 * OCI image index as containers/image ≤ 5.24 chooses (skopeo 1.9, podman 4.3, buildah 1.28): wanted-platform order,
 * then list order, first match wins, no zstd preference; failing that, the first entry without a platform.
 */
export function chooseInstanceLegacy(index: Entries, sys: PlatformChoice, opts: WantedOptions = {}): Descriptor {
  const wanted = wantedPlatforms(sys, opts);
  const entries = index.manifests ?? [];
  for (const w of wanted) {
    const hit = entries.find((d) => d.platform !== undefined && matchesPlatform(d.platform, w));
    if (hit) return hit;
  }
  const unplatformed = entries.find((d) => d.platform === undefined);
  if (unplatformed) return unplatformed;
  return noMatch('image index', wanted, entries);
}

/** ChooseInstance for a list of either format (the OCI rule being the current one, zstd preferred by default). */
export function chooseInstance(mediaType: string, list: Entries, sys: PlatformChoice, opts: ChooseOptions = {}): Descriptor {
  if (mediaType === DOCKER_LIST) return chooseInstanceDockerList(list, sys, opts);
  if (mediaType === OCI_INDEX) return chooseInstanceOCIIndex(list, sys, opts);
  throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `cannot choose an instance from ${JSON.stringify(mediaType)}: not a manifest list type`);
}

// ---- host facts (pure: the caller reads /proc/cpuinfo and process.platform / process.arch) -----------------------

/** The ARM variant Linux reports in /proc/cpuinfo, mapped as containers/image maps it ("" when unknown). */
export function cpuVariantFromCpuinfo(cpuinfo: string): string {
  const field = (name: string): string | undefined => {
    for (const line of cpuinfo.split('\n')) {
      const parts = line.split(':');
      if (parts.length > 1 && (parts[0] ?? '').trim().toLowerCase() === name) return (parts[1] ?? '').trim();
    }
    return undefined;
  };
  const arch = field('cpu architecture');
  if (arch === undefined) return '';
  switch (arch.toLowerCase()) {
    case '8':
    case 'aarch64':
      return 'v8';
    case '7m':
    case '?(12)':
    case '?(13)':
    case '?(14)':
    case '?(15)':
    case '?(16)':
    case '?(17)':
      return 'v7';
    case '7': {
      // Some ARMv6 boards (Raspberry Pi Zero/1) report architecture 7; their model name gives them away.
      const model = field('model name');
      if (model === undefined) return '';
      return model.toLowerCase().startsWith('armv6-compatible') ? 'v6' : 'v7';
    }
    case '6':
    case '6tej':
      return 'v6';
    case '5':
    case '5t':
    case '5te':
    case '5tej':
      return 'v5';
    case '4':
    case '4t':
      return 'v4';
    case '3':
      return 'v3';
    default:
      return '';
  }
}

/** The variant containers/image auto-detects for the running host (GOOS/GOARCH spelling). */
export function hostVariant(goos: string, goarch: string, cpuinfo?: string): string {
  if (goos === 'darwin' || goos === 'windows') return goarch === 'arm64' ? 'v8' : goarch === 'arm' ? 'v7' : '';
  if ((goarch === 'arm' || goarch === 'arm64') && cpuinfo !== undefined) return cpuVariantFromCpuinfo(cpuinfo);
  return '';
}

/** Go's GOARCH for a Node process.arch value (ppc64 is little-endian unless said otherwise, as Node builds it). */
export function goArch(nodeArch: string, endianness: 'LE' | 'BE' = 'LE'): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return endianness === 'LE' ? 'ppc64le' : 'ppc64';
    case 'mipsel':
      return 'mipsle';
    default:
      return nodeArch;
  }
}

/** Go's GOOS for a Node process.platform value. */
export function goOS(nodePlatform: string): string {
  switch (nodePlatform) {
    case 'win32':
      return 'windows';
    case 'sunos':
      return 'solaris';
    default:
      return nodePlatform;
  }
}
