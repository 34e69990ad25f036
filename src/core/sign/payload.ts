import { ErrorCodes, PlaitError } from '../../errors.js';
import { isDigest, parseDigest } from '../../oci/digest.js';
import type { Digest } from '../../oci/digest.js';
import { goMap, goMarshal } from '../../oci/gojson.js';
import { parseReference, referenceString, withDefaultTag } from '../../oci/reference.js';
import type { DockerReference } from '../../oci/reference.js';

// The "simple signing" payload both signature kinds sign (research/containers-semantics.md §6.2, §7): a JSON object
// with `critical` (what is signed: identity, manifest digest, type) and `optional` (creator, timestamp). containers/image
// marshals it from Go maps, so every level has its keys sorted, the text is compact and escaping is Go's — goMarshal
// with goMap gives the same bytes. Readers parse it strictly (exact key sets in `critical`), so the parser below does
// too: an attachment plait accepts as "already signed" is one containers/image would accept.

export const SIGSTORE_PAYLOAD_TYPE = 'cosign container image signature';
export const SIMPLE_SIGNING_PAYLOAD_TYPE = 'atomic container signature';
export type PayloadType = typeof SIGSTORE_PAYLOAD_TYPE | typeof SIMPLE_SIGNING_PAYLOAD_TYPE;

export interface PayloadOptions {
  /** optional.creator; left out when undefined. */
  creator?: string;
  /** optional.timestamp in Unix seconds; now when undefined, left out when null. */
  timestamp?: number | null;
}

export interface ParsedPayload {
  type: PayloadType;
  identity: string;
  digest: Digest;
  creator?: string;
  timestamp?: number;
}

/**
 * The identity a signature claims: the destination reference fully expanded (docker.io/library/…), with `:latest`
 * added to a name-only reference, as containers/image's docker transport does when it parses a destination.
 * A reference with both a tag and a digest is refused (the docker transport refuses those too).
 */
export function signingIdentity(ref: string | DockerReference): string {
  const parsed = typeof ref === 'string' ? parseReference(ref) : ref;
  if (parsed.tag !== undefined && parsed.digest !== undefined) {
    throw new PlaitError(ErrorCodes.E_INVALID, `signing identity ${referenceString(parsed)}: a reference with both a tag and a digest cannot be a signing identity`);
  }
  return referenceString(withDefaultTag(parsed));
}

function build(type: PayloadType, identity: string | DockerReference, digest: string, opts: PayloadOptions): Buffer {
  const optional: Record<string, unknown> = {};
  if (opts.creator !== undefined) optional.creator = opts.creator;
  const ts = opts.timestamp === undefined ? Math.floor(Date.now() / 1000) : opts.timestamp;
  if (ts !== null) {
    if (!Number.isSafeInteger(ts)) throw new PlaitError(ErrorCodes.E_INVALID, `signature timestamp ${ts} is not an integer`);
    optional.timestamp = ts;
  }
  return goMarshal(
    goMap({
      critical: goMap({
        identity: goMap({ 'docker-reference': signingIdentity(identity) }),
        image: goMap({ 'docker-manifest-digest': parseDigest(digest) }),
        type,
      }),
      optional: goMap(optional),
    }),
  );
}

/** The payload of a sigstore (cosign-style) signature. */
export function sigstorePayload(identity: string | DockerReference, digest: string, opts: PayloadOptions = {}): Buffer {
  return build(SIGSTORE_PAYLOAD_TYPE, identity, digest, opts);
}

/** The payload of a GPG "simple signing" signature (creator by convention starts with `atomic `). */
export function simpleSigningPayload(identity: string | DockerReference, digest: string, opts: PayloadOptions = {}): Buffer {
  return build(SIMPLE_SIGNING_PAYLOAD_TYPE, identity, digest, opts);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function exactKeys(v: unknown, keys: readonly string[], path: string): Record<string, unknown> {
  if (!isRecord(v)) throw invalidPayload(`${path} is not a JSON object`);
  const have = Object.keys(v);
  const missing = keys.filter((k) => !(k in v));
  const extra = have.filter((k) => !keys.includes(k));
  if (missing.length > 0 || extra.length > 0) {
    throw invalidPayload(`${path} must have exactly ${keys.join(', ')}${extra.length > 0 ? ` (unexpected ${extra.join(', ')})` : ''}${missing.length > 0 ? ` (missing ${missing.join(', ')})` : ''}`);
  }
  return v;
}

function invalidPayload(reason: string): PlaitError {
  return new PlaitError(ErrorCodes.E_SIGN, `invalid signature payload: ${reason}`);
}

/**
 * Parse a payload as containers/image does before trusting it: exact key sets in `critical`, the expected type,
 * a string identity, a valid digest; `optional` may be null only for sigstore payloads, and its timestamp must be an
 * integer. Call this only on bytes whose signature has verified.
 */
export function parseSignaturePayload(bytes: Uint8Array, type: PayloadType): ParsedPayload {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalidPayload('not JSON');
  }
  const top = exactKeys(doc, ['critical', 'optional'], '(root)');
  const critical = exactKeys(top.critical, ['type', 'image', 'identity'], 'critical');
  if (critical.type !== type) throw invalidPayload(`critical.type is ${JSON.stringify(critical.type)}, want ${JSON.stringify(type)}`);
  const image = exactKeys(critical.image, ['docker-manifest-digest'], 'critical.image');
  const identity = exactKeys(critical.identity, ['docker-reference'], 'critical.identity');
  const digest = image['docker-manifest-digest'];
  const ref = identity['docker-reference'];
  if (!isDigest(digest)) throw invalidPayload('critical.image.docker-manifest-digest is not a digest');
  if (typeof ref !== 'string') throw invalidPayload('critical.identity.docker-reference is not a string');
  const out: ParsedPayload = { type, identity: ref, digest };
  const optional = top.optional;
  if (optional === null && type === SIGSTORE_PAYLOAD_TYPE) return out;
  if (!isRecord(optional)) throw invalidPayload('optional is not a JSON object');
  if (optional.creator !== undefined) {
    if (typeof optional.creator !== 'string') throw invalidPayload('optional.creator is not a string');
    out.creator = optional.creator;
  }
  if (optional.timestamp !== undefined) {
    if (typeof optional.timestamp !== 'number' || !Number.isSafeInteger(optional.timestamp)) throw invalidPayload('optional.timestamp is not an integer');
    out.timestamp = optional.timestamp;
  }
  return out;
}
