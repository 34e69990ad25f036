import { PlaitError, ErrorCodes } from '../errors.js';
import { parseImageName, formatImageName } from '../oci/image-name.js';
import type { ImageName } from '../oci/image-name.js';
import { registryHost } from '../oci/reference.js';
import { RegistryImage } from './registry/image.js';
import type { RegistryClientOptions } from './registry/client.js';
import { LayoutImage } from './layout/layout.js';

export type { ImageSource, ImageDestination, ManifestBlob, BlobDescriptor, BlobLocation, ResolvedManifest, PutBlobResult } from './types.js';
export { RegistryImage } from './registry/image.js';
export { LayoutImage } from './layout/layout.js';
export { requestStats, resetRequestStats, closeAllClients } from './registry/client.js';
export type { RegistryClientOptions } from './registry/client.js';

/** Registry flags every command that talks to a registry takes (podman/skopeo names). */
export interface TransportOptions extends RegistryClientOptions {
  /** Hosts that are spoken to over plain HTTP (explicit per registry, never a silent fallback). */
  plainHttpHosts?: string[];
}

/** Open a transport-qualified name (`docker://…` — the default —, or `oci:DIR[:REF]`) as source and destination. */
export function openImage(name: string | ImageName, opts: TransportOptions = {}): RegistryImage | LayoutImage {
  const parsed = typeof name === 'string' ? parseImageName(name) : name;
  if (parsed.transport === 'oci') {
    if (parsed.sourceIndex !== undefined) {
      throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${formatImageName(parsed)}: selecting a layout entry by index is not supported; name it by its ref`);
    }
    return new LayoutImage(parsed.dir, parsed.image === '' ? undefined : parsed.image);
  }
  const ref = parsed.ref;
  const host = registryHost(ref);
  const { plainHttpHosts, ...clientOpts } = opts;
  const plainHttp = clientOpts.plainHttp === true || (plainHttpHosts ?? []).includes(ref.domain) || (plainHttpHosts ?? []).includes(host);
  return new RegistryImage(
    {
      host,
      repository: ref.path,
      tag: parsed.unknownDigest ? undefined : ref.tag,
      digest: ref.digest,
      name: formatImageName(parsed),
    },
    { ...clientOpts, plainHttp },
  );
}
