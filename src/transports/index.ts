import { PlaitError, ErrorCodes } from '../errors.js';
import { parseImageName, formatImageName } from '../oci/image-name.js';
import type { ImageName } from '../oci/image-name.js';
import { parseReference, referenceString, registryHost } from '../oci/reference.js';
import { RegistryImage } from './registry/image.js';
import type { RegistryClientOptions } from './registry/client.js';
import { settingsFor, bindFlagCredentials } from './registry/hosts.js';
import type { CredentialBinding, RegistrySettings, Side, SideSettings } from './registry/hosts.js';
import { LayoutImage } from './layout/layout.js';
import { pullSourcesFor, registriesConf, resolveShortName } from './registry/registries-conf.js';
import type { PullSource } from './registry/registries-conf.js';
import { MirroredImage } from './registry/mirrored.js';
import type { DockerReference } from '../oci/reference.js';

export type { ImageSource, ImageDestination, ManifestBlob, BlobDescriptor, BlobLocation, ResolvedManifest, PutBlobResult } from './types.js';
export { RegistryImage } from './registry/image.js';
export { MirroredImage } from './registry/mirrored.js';
export { LayoutImage } from './layout/layout.js';
export { requestStats, resetRequestStats, closeAllClients } from './registry/client.js';
export type { RegistryClientOptions } from './registry/client.js';
export type { TlsRemedies } from './registry/tls-errors.js';
export { claimCredential, bindFlagCredentials, displayHost } from './registry/hosts.js';
export type { CredentialBinding } from './registry/hosts.js';
export type { RegistrySettings, Side } from './registry/hosts.js';

/**
 * Registry flags every command that talks to a registry takes (podman/skopeo names). The top-level settings are the
 * un-prefixed flags and apply to both sides; `source`/`destination` are the --src-…/--dest-… flags (hosts.ts).
 */
export interface TransportOptions extends RegistryClientOptions {
  /** Hosts that are spoken to over plain HTTP (explicit per registry, never a silent fallback). */
  plainHttpHosts?: string[];
  source?: RegistrySettings;
  destination?: RegistrySettings;
  /** Per-host entries, below every flag. */
  hosts?: Record<string, RegistrySettings>;
  /** The command has --src-…/--dest-… flags (hints name them). */
  sideFlags?: boolean;
  /** Where flag credentials are claimed by one registry each; without it they go wherever asked. */
  binding?: CredentialBinding;
}

function sideSettings(opts: TransportOptions): SideSettings {
  const { tlsVerify, plainHttp, certDir, creds, authfile, source, destination, hosts, sideFlags, binding } = opts;
  return { both: { tlsVerify, plainHttp, certDir, creds, authfile }, source, destination, hosts, sideFlags, binding };
}

/** A docker reference as written (`docker://` stripped) with its short name resolved the way podman does. */
function qualified(name: string): string {
  if (name.startsWith('oci:')) return name;
  const bare = name.startsWith('docker://') ? name.slice('docker://'.length) : name;
  if (/^(containers-storage|dir|docker-archive|docker-daemon|oci-archive|ostree|sif|tarball):/.test(bare)) return name; // parseImageName refuses these
  return resolveShortName(registriesConf(), bare, false);
}

/**
 * The name parsed, with registries.conf applied to a docker reference: a blocked registry is refused here, before any
 * request; `location` rewrites the prefix; `insecure` is returned for the caller to apply below the flags, and the
 * mirrors that apply to the reference (used only where it is read as a source).
 */
function parseWithConf(name: string | ImageName, dropTagIfDigested = false): { parsed: ImageName; insecure: boolean; mirrors: PullSource[] } {
  let parsed = typeof name === 'string' ? parseImageName(qualified(name), { dropTagIfDigested }) : name;
  let insecure = false;
  let mirrors: PullSource[] = [];
  if (parsed.transport === 'docker') {
    const written = referenceString(parsed.ref);
    const sources = pullSourcesFor(registriesConf(), written);
    const primary = sources[sources.length - 1]!;
    if (primary.ref !== written) parsed = { ...parsed, ref: parseReference(primary.ref) };
    insecure = primary.insecure;
    mirrors = sources.slice(0, -1);
  }
  return { parsed, insecure, mirrors };
}

/**
 * Bind every flag credential to the one registry it is for, given all the images a command will read (source) and
 * write (destination): a credential that would reach a second registry is refused now, before anything is touched.
 */
export function claimRegistries(opts: TransportOptions, images: { source?: Iterable<string>; destination?: Iterable<string> }): void {
  if (!opts.binding) return;
  const hostsOf = (names: Iterable<string> | undefined) => [...names ?? []].flatMap((n) => {
    const { parsed } = parseWithConf(n, true);
    return parsed.transport === 'docker' ? [registryHost(parsed.ref)] : [];
  });
  bindFlagCredentials(sideSettings(opts), { source: hostsOf(images.source), destination: hostsOf(images.destination) });
}

/**
 * Open a transport-qualified name (`docker://…` — the default —, or `oci:DIR[:REF]`) as source and destination;
 * `side` says which flags reach its registry: the sources' or the destination's. registries.conf applies first
 * (parseWithConf); its `insecure` counts only where no flag says otherwise. A source with registries.conf mirrors is
 * read from the first of them that serves it, else its primary location (MirroredImage); a destination never is.
 */
export function openImage(name: string | ImageName, opts: TransportOptions = {}, side: Side = 'source'): RegistryImage | LayoutImage {
  const { parsed, insecure, mirrors } = parseWithConf(name);
  if (parsed.transport === 'oci') {
    if (parsed.sourceIndex !== undefined) {
      throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${formatImageName(parsed)}: selecting a layout entry by index is not supported; name it by its ref`);
    }
    return new LayoutImage(parsed.dir, parsed.image === '' ? undefined : parsed.image);
  }
  const primaryOpts = clientOptions(parsed.ref, insecure, opts, side, true);
  const primary = registryImage(parsed.ref, formatImageName(parsed), parsed.unknownDigest, primaryOpts);
  if (side === 'destination' || mirrors.length === 0) return primary;
  const primaryHost = registryHost(parsed.ref);
  return new MirroredImage([
    ...mirrors.map((m) => {
      const ref = parseReference(m.ref);
      const mirrorName = formatImageName({ ...parsed, ref });
      // A flag credential was bound to the primary's host: a mirror elsewhere gets only what is kept for its own host.
      const flagCreds = registryHost(ref) === primaryHost;
      const mirrorOpts = clientOptions(ref, m.insecure, opts, side, flagCreds);
      return {
        image: registryImage(ref, mirrorName, parsed.unknownDigest, mirrorOpts),
        probe: registryImage(ref, mirrorName, parsed.unknownDigest, { ...mirrorOpts, retry: { ...mirrorOpts.retry, attempts: 1 } }),
        mirror: true,
      };
    }),
    { image: primary, probe: primary, mirror: false },
  ], primaryOpts);
}

/** The client settings `ref`'s host is reached with from `side`; `flagCreds` false keeps every flag credential away. */
function clientOptions(ref: DockerReference, insecure: boolean, opts: TransportOptions, side: Side, flagCreds: boolean): RegistryClientOptions {
  const host = registryHost(ref);
  const sides = sideSettings(opts);
  if (!flagCreds) {
    delete sides.both!.creds;
    if (sides.source) sides.source = { ...sides.source, creds: undefined };
    delete sides.binding;
  }
  const eff = settingsFor(host, side, sides);
  const plainHosts = opts.plainHttpHosts ?? [];
  const plain = eff.plainHttp === true || (eff.plainHttp === undefined && (plainHosts.includes(ref.domain) || plainHosts.includes(host)));
  // Only what is not per side passes through as it is; the rest is this host's effective settings.
  const { maxConcurrency, retry, env, home, tlsRemedies } = opts;
  const credentials = flagCreds ? opts.credentials : undefined;
  const clientOpts: RegistryClientOptions = { maxConcurrency, retry, credentials, env, home, plainHttp: plain, flagPrefix: eff.flagPrefix, tlsRemedies };
  for (const k of Object.keys(clientOpts) as Array<keyof RegistryClientOptions>) if (clientOpts[k] === undefined) delete clientOpts[k];
  if (eff.tlsVerify !== undefined) clientOpts.tlsVerify = eff.tlsVerify;
  // insecure = true is podman's --tls-verify=false for that registry: https unverified, else http.
  else if (insecure) clientOpts.tlsVerify = false;
  if (eff.certDir !== undefined) clientOpts.certDir = eff.certDir;
  if (eff.creds !== undefined) clientOpts.creds = eff.creds;
  if (eff.authfile !== undefined) clientOpts.authfile = eff.authfile;
  return clientOpts;
}

function registryImage(ref: DockerReference, name: string, unknownDigest: boolean, clientOpts: RegistryClientOptions): RegistryImage {
  return new RegistryImage({ host: registryHost(ref), repository: ref.path, tag: unknownDigest ? undefined : ref.tag, digest: ref.digest, name }, clientOpts);
}
