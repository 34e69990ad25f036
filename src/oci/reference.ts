import { ErrorCodes, PlaitError, isPlaitError } from '../errors.js';
import { parseDigest, type Digest } from './digest.js';

// Docker image references, normalised as distribution/reference ParseNormalizedNamed does ("busybox" →
// "docker.io/library/busybox"), plus the transport-qualified names containers/image uses (docker://…, oci:…).
//
// The grammar is distribution/reference's current one. It differs from the older copy vendored in containers/image in
// three corner cases, all of which only make it more permissive: IPv6 hosts ([::1]:5000) are accepted, the 255
// character limit applies to the repository path rather than to host+path, and a first component containing
// upper-case letters is taken for a host (containers/image's copy calls it an upper-case repository instead).
// Both copies let an invalid host slip through as a path component and return a reference without a domain, and both
// take any digits for a port; plait refuses both (see parseReference).

export interface DockerReference {
  /** Registry host[:port], normalised: docker.io (never index.docker.io), localhost:5000, [::1]:5000… */
  readonly domain: string;
  /** Repository path without the domain, e.g. library/busybox. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const NAME = `(?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME}`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';

const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const DIGEST_RE = new RegExp(`^${DIGEST}$`);
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN_AND_PORT}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** The API endpoint behind docker.io. */
export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';
export const MAX_REPOSITORY_LENGTH = 255;

function invalid(input: string, reason: string): never {
  throw new PlaitError(ErrorCodes.E_REFERENCE_INVALID, `invalid reference ${JSON.stringify(input)}: ${reason}`, {
    details: { reference: input },
  });
}

function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];
  const first = name.slice(0, slash);
  let rest = name.slice(slash + 1);
  let domain: string;
  if (first === 'localhost' || first.includes('.') || first.includes(':') || first.toLowerCase() !== first) {
    domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
  } else {
    domain = DEFAULT_DOMAIN;
    rest = name;
  }
  if (domain === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_REPO_PREFIX + rest;
  return [domain, rest];
}

// The regular expression only says yes or no; find the part that is wrong so the message can name it.
function diagnose(s: string): string {
  let rest = s;
  if (/\s/.test(s)) return 'contains white space';
  const at = rest.indexOf('@');
  if (at >= 0) {
    const digest = rest.slice(at + 1);
    if (!DIGEST_RE.test(digest)) return `invalid digest ${JSON.stringify(digest)} (expected algorithm:hex, e.g. sha256:<64 hex>)`;
    rest = rest.slice(0, at);
  }
  const colon = rest.indexOf(':', rest.lastIndexOf('/') + 1);
  if (colon >= 0) {
    const tag = rest.slice(colon + 1);
    if (!TAG_RE.test(tag)) {
      return `invalid tag ${JSON.stringify(tag)} (up to 128 letters, digits, "_", "." or "-", not starting with "." or "-")`;
    }
    rest = rest.slice(0, colon);
  }
  if (rest === '') return 'repository name must have at least one component';
  const [domain, path] = splitDockerDomain(rest);
  if (rest.startsWith(domain + '/') && !DOMAIN_RE.test(domain)) return `invalid registry host ${JSON.stringify(domain)}`;
  for (const component of path.split('/')) {
    if (component === '') return 'repository path has an empty component';
    if (!PATH_COMPONENT_RE.test(component)) {
      return `invalid path component ${JSON.stringify(component)} (lower-case letters and digits, separated by ".", "_", "__" or dashes)`;
    }
  }
  return 'invalid reference format';
}

/**
 * ParseNormalizedNamed: parse a familiar or full reference and normalise its domain (docker.io, library/ for
 * single-component Docker Hub names). No default tag is added; see withDefaultTag.
 */
export function parseReference(s: string): DockerReference {
  if (typeof s !== 'string' || s === '') invalid(String(s ?? ''), 'empty reference');
  if (IDENTIFIER_RE.test(s)) invalid(s, 'cannot specify 64-byte hexadecimal strings (that is an image ID, not a name)');
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon < 0 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) invalid(s, `repository name (${remote}) must be lowercase`);

  const full = `${domain}/${remainder}`;
  const m = REFERENCE_RE.exec(full);
  if (m === null) {
    if (REFERENCE_RE.test(full.toLowerCase())) invalid(s, 'repository name must be lowercase');
    invalid(s, diagnose(s));
  }
  const nameMatch = ANCHORED_NAME_RE.exec(m[1] ?? '');
  // distribution accepts "a_b.example.com/foo" by reading the invalid host as a path component, leaving a reference
  // with no domain at all; nothing could be pulled from that, so refuse it.
  if (!nameMatch?.[1]) invalid(s, diagnose(s));
  // The grammar takes any digits for a port; a port no socket can have would only fail at the first connection, after
  // other work (and as "Invalid URL"), so it is refused here with the rest of the bad input.
  const port = /:([0-9]+)$/.exec(nameMatch[1])?.[1];
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) {
    invalid(s, `invalid registry host ${JSON.stringify(nameMatch[1])}: the port must be from 1 to 65535`);
  }
  const path = nameMatch[2] ?? '';
  if (path.length > MAX_REPOSITORY_LENGTH) invalid(s, `repository name must not be more than ${MAX_REPOSITORY_LENGTH} characters`);
  let digest: Digest | undefined;
  if (m[3] !== undefined) {
    try {
      digest = parseDigest(m[3]);
    } catch (e) {
      if (!isPlaitError(e)) throw e;
      throw new PlaitError(e.code === ErrorCodes.E_UNSUPPORTED ? e.code : ErrorCodes.E_REFERENCE_INVALID, `invalid reference ${JSON.stringify(s)}: ${e.message}`, {
        cause: e,
        details: { reference: s },
      });
    }
  }
  return build(nameMatch[1], path, m[2], digest);
}

function build(domain: string, path: string, tag: string | undefined, digest: Digest | undefined): DockerReference {
  return {
    domain,
    path,
    ...(tag !== undefined && tag !== '' && { tag }),
    ...(digest !== undefined && { digest }),
  };
}

export function isNameOnly(ref: DockerReference): boolean {
  return ref.tag === undefined && ref.digest === undefined;
}

/** TagNameOnly: a reference with neither tag nor digest gets `latest`; anything else is returned unchanged. */
export function withDefaultTag(ref: DockerReference): DockerReference {
  return isNameOnly(ref) ? build(ref.domain, ref.path, DEFAULT_TAG, undefined) : ref;
}

/** Set the tag (a digest already present is kept, as distribution's WithTag does). */
export function withTag(ref: DockerReference, tag: string): DockerReference {
  if (!TAG_RE.test(tag)) invalid(`${referenceName(ref)}:${tag}`, `invalid tag ${JSON.stringify(tag)}`);
  return build(ref.domain, ref.path, tag, ref.digest);
}

/** Set the digest (a tag already present is kept, as distribution's WithDigest does). */
export function withDigest(ref: DockerReference, digest: string): DockerReference {
  return build(ref.domain, ref.path, ref.tag, parseDigest(digest));
}

/** The repository alone, without tag or digest. */
export function nameOnly(ref: DockerReference): DockerReference {
  return build(ref.domain, ref.path, undefined, undefined);
}

/** For tag+digest references keep only the digest (ParseDockerRef; libimage does the same before pulling). */
export function dropTagIfDigested(ref: DockerReference): DockerReference {
  return ref.digest !== undefined && ref.tag !== undefined ? build(ref.domain, ref.path, undefined, ref.digest) : ref;
}

/** Name(): domain/path. */
export function referenceName(ref: DockerReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** String(): domain/path[:tag][@digest]. */
export function referenceString(ref: DockerReference): string {
  return `${referenceName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** FamiliarName: docker.io/ dropped, and library/ for official images. */
export function familiarName(ref: DockerReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return referenceName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

/** FamiliarString: familiarName[:tag][@digest]. */
export function familiarString(ref: DockerReference): string {
  return `${familiarName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The repository path as the registry API wants it (/v2/<path>/…). */
export function repositoryPath(ref: DockerReference): string {
  return ref.path;
}

/** The host[:port] to connect to: docker.io is served by registry-1.docker.io. */
export function registryHost(ref: DockerReference): string {
  return ref.domain === DEFAULT_DOMAIN ? DOCKER_HUB_REGISTRY : ref.domain;
}
