import { ErrorCodes, PlaitError } from '../errors.js';
import {
  familiarString,
  dropTagIfDigested,
  isNameOnly,
  parseReference,
  withDefaultTag,
  type DockerReference,
} from './reference.js';

// Transport-qualified image names as containers/image writes them (transports.ImageName) and as
// containers/common stores them in instances.json: `docker://REF` and `oci:DIR[:REF|:@INDEX]`. A name without a
// known transport prefix is a docker reference, which is what plait's users write most of the time.

export type ImageName =
  | {
      transport: 'docker';
      /** Normalised, and tagged `latest` when the input named neither tag nor digest (docker transport rule). */
      ref: DockerReference;
      /** `docker://host/repo@@unknown-digest@@`: a write target with no tag (push by digest only). */
      unknownDigest: boolean;
    }
  | {
      transport: 'oci';
      dir: string;
      /** The org.opencontainers.image.ref.name to select or write; "" = none. */
      image: string;
      /** `oci:DIR:@N`: the N-th manifest of the layout's index.json. */
      sourceIndex?: number;
    };

export interface ParseImageNameOptions {
  /**
   * containers/image refuses `name:tag@digest` in the docker transport; podman's libimage drops the tag first. Set
   * this to do the latter.
   */
  dropTagIfDigested?: boolean;
}

const UNKNOWN_DIGEST_SUFFIX = '@@unknown-digest@@';

// containers/image transports plait does not implement; naming them gives a clearer error than a failed docker parse.
const OTHER_TRANSPORTS = new Set(['containers-storage', 'dir', 'docker-archive', 'docker-daemon', 'oci-archive', 'ostree', 'sif', 'tarball']);

// oci/internal ValidateImageName: the image-spec ref.name grammar.
const OCI_REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const OCI_REF_RE = new RegExp(`^${OCI_REF_COMPONENT}(?:/${OCI_REF_COMPONENT})*$`);

function invalid(input: string, reason: string): never {
  throw new PlaitError(ErrorCodes.E_REFERENCE_INVALID, `invalid image name ${JSON.stringify(input)}: ${reason}`, {
    details: { imageName: input },
  });
}

function parseDocker(input: string, within: string, opts: ParseImageNameOptions): ImageName {
  if (within.endsWith(UNKNOWN_DIGEST_SUFFIX)) {
    const ref = parseReference(within.slice(0, -UNKNOWN_DIGEST_SUFFIX.length));
    if (!isNameOnly(ref)) invalid(input, 'an @@unknown-digest@@ reference must have neither tag nor digest');
    return { transport: 'docker', ref, unknownDigest: true };
  }
  let ref = parseReference(within);
  if (ref.tag !== undefined && ref.digest !== undefined) {
    if (opts.dropTagIfDigested !== true) invalid(input, 'references with both a tag and a digest are not supported; use repo@digest');
    ref = dropTagIfDigested(ref);
  }
  return { transport: 'docker', ref: withDefaultTag(ref), unknownDigest: false };
}

// containers/image (non-Windows) splits an oci: reference at its FIRST colon: everything before is the directory,
// everything after is the image name or @index. A directory containing ":" therefore cannot be named; plait keeps
// that rule so that names round-trip with podman and skopeo.
function parseOCI(input: string, within: string): ImageName {
  const colon = within.indexOf(':');
  const dir = colon < 0 ? within : within.slice(0, colon);
  const image = colon < 0 ? '' : within.slice(colon + 1);
  if (dir === '') invalid(input, 'the OCI layout directory is empty');
  if (image.startsWith('@')) {
    const text = image.slice(1);
    if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) invalid(input, `source index @${text} is not an integer`);
    const index = Number(text);
    if (index < 0) invalid(input, `source index @${index} must not be negative`);
    return { transport: 'oci', dir, image: '', sourceIndex: index };
  }
  if (image !== '' && !OCI_REF_RE.test(image)) {
    invalid(input, `image ${JSON.stringify(image)} is not a valid org.opencontainers.image.ref.name`);
  }
  return { transport: 'oci', dir, image };
}

/**
 * Parse `docker://REF`, `oci:DIR[:NAME|:@INDEX]`, or a bare docker reference. Other containers/image transports
 * (containers-storage:, dir:, …) are refused with E_UNSUPPORTED.
 */
export function parseImageName(s: string, opts: ParseImageNameOptions = {}): ImageName {
  if (typeof s !== 'string' || s === '') invalid(String(s ?? ''), 'empty');
  const colon = s.indexOf(':');
  if (colon >= 0) {
    const transport = s.slice(0, colon);
    const within = s.slice(colon + 1);
    if (transport === 'docker') {
      if (!within.startsWith('//')) invalid(s, 'a docker: reference must start with docker://');
      return parseDocker(s, within.slice(2), opts);
    }
    if (transport === 'oci') return parseOCI(s, within);
    if (OTHER_TRANSPORTS.has(transport)) {
      throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `image name ${JSON.stringify(s)}: the ${transport} transport is not supported (use docker:// or oci:)`, {
        details: { imageName: s, transport },
      });
    }
  }
  return parseDocker(s, s, opts);
}

/** transports.ImageName: `docker://` + the familiar string, or `oci:DIR:NAME` / `oci:DIR:@N`. */
export function formatImageName(name: ImageName): string {
  if (name.transport === 'docker') {
    return `docker://${familiarString(name.ref)}${name.unknownDigest ? UNKNOWN_DIGEST_SUFFIX : ''}`;
  }
  return name.sourceIndex !== undefined ? `oci:${name.dir}:@${name.sourceIndex}` : `oci:${name.dir}:${name.image}`;
}
