import { PlaitError, ErrorCodes } from '../../errors.js';

// Which settings reach which registry. A run can touch several registries on two sides — the sources it reads and
// the destination it writes — and the flags a user gives must reach only the registries they were meant for:
//   - the side's own flag (--src-…, --dest-…) wins over the un-prefixed flag, which means "both sides" (skopeo's
//     global --tls-verify and shared --authfile work the same way);
//   - TLS and plain-HTTP flags are not secrets: they apply to every registry of their side;
//   - a credential given on the command line (--creds, --src-creds, --dest-creds) belongs to ONE registry: the first
//     host it is resolved for claims it, and any other host asking for it is refused. Commands bind every host they
//     will touch before they start (bindFlagCredentials), so the refusal comes before anything is read or written.
// Per-registry entries come from the files containers tools already keep per host: auth files (credentials) and
// certs.d/<host>/ (CAs, client certificates); a per-host config reader plugs in through `hosts` below.

export type Side = 'source' | 'destination';

/** What a registry is reached with. */
export interface RegistrySettings {
  tlsVerify?: boolean;
  plainHttp?: boolean;
  certDir?: string;
  /** USER:PASSWORD from a flag: offered to one registry only (see CredentialBinding). */
  creds?: string;
  authfile?: string;
}

/** Settings by origin: un-prefixed flags (both sides), each side's own flags, and per-host entries. */
export interface SideSettings {
  both?: RegistrySettings;
  source?: RegistrySettings;
  destination?: RegistrySettings;
  /** Per-host entries (host[:port] → settings), below every flag in precedence. */
  hosts?: Record<string, RegistrySettings>;
  /** How a hint names this side's flags: `--src-`/`--dest-` where the command has them, else `--`. */
  sideFlags?: boolean;
  binding?: CredentialBinding;
}

export interface EffectiveSettings extends RegistrySettings {
  /** The flag prefix hints should name ("--dest-", "--src-" or "--"). */
  flagPrefix: string;
}

type CredsFlag = 'creds' | 'src-creds' | 'dest-creds';

/** docker.io's API host is shown under the name users write. */
export function displayHost(host: string): string {
  return host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/** The registry each flag credential was claimed by. One per run (or per command). */
/**
 * Which registry each flag credential was first offered to, for one run. A plain Map, so that flag parsing can make
 * one without loading the registry code (claimCredential holds the rule).
 */
export type CredentialBinding = Map<CredsFlag, string>;

export function claimCredential(binding: CredentialBinding, flag: CredsFlag, host: string): void {
  const owner = binding.get(flag);
  if (owner === undefined) {
    binding.set(flag, host);
    return;
  }
  if (owner === host) return;
  const [a, b] = [displayHost(owner), displayHost(host)].sort();
  const fix = flag === 'creds'
    ? 'give each side its own with --src-creds/--dest-creds, or put one entry per registry in an auth file (--authfile)'
    : `put one entry per registry in an auth file (--${flag === 'src-creds' ? 'src' : 'dest'}-authfile)`;
  throw new PlaitError(ErrorCodes.E_INVALID, `--${flag} would be offered to two registries (${a} and ${b}): ${fix}`);
}

function pick<K extends keyof RegistrySettings>(key: K, ...layers: Array<RegistrySettings | undefined>): RegistrySettings[K] {
  for (const l of layers) if (l?.[key] !== undefined) return l[key];
  return undefined;
}

/** The settings `host` is reached with from `side`; claims a flag credential for the host (or refuses it). */
export function settingsFor(host: string, side: Side, s: SideSettings): EffectiveSettings {
  const own = side === 'source' ? s.source : s.destination;
  const perHost = s.hosts?.[host];
  const out: EffectiveSettings = { flagPrefix: s.sideFlags ? (side === 'source' ? '--src-' : '--dest-') : '--' };
  const tlsVerify = pick('tlsVerify', own, s.both, perHost);
  const plainHttp = pick('plainHttp', own, s.both, perHost);
  const certDir = pick('certDir', own, s.both, perHost);
  const authfile = pick('authfile', own, s.both, perHost);
  if (tlsVerify !== undefined) out.tlsVerify = tlsVerify;
  if (plainHttp !== undefined) out.plainHttp = plainHttp;
  if (certDir !== undefined) out.certDir = certDir;
  if (authfile !== undefined) out.authfile = authfile;
  if (own?.creds !== undefined) {
    if (s.binding) claimCredential(s.binding, side === 'source' ? 'src-creds' : 'dest-creds', host);
    out.creds = own.creds;
  } else if (s.both?.creds !== undefined) {
    if (s.binding) claimCredential(s.binding, 'creds', host);
    out.creds = s.both.creds;
  } else if (perHost?.creds !== undefined) {
    out.creds = perHost.creds;
  }
  return out;
}

/** Claim every flag credential for the hosts a command will reach, so a second registry is refused up front. */
export function bindFlagCredentials(s: SideSettings, hosts: { source?: Iterable<string>; destination?: Iterable<string> }): void {
  for (const h of hosts.source ?? []) settingsFor(h, 'source', s);
  for (const h of hosts.destination ?? []) settingsFor(h, 'destination', s);
}
