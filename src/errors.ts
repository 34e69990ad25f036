// The one error family of plait. Every layer throws PlaitError with a stable code so that the CLI can map it to an
// exit status and one clear line, and the reconcilers can tell a retryable failure from a final one.
// This module sits below every layer (it imports nothing), so oci, transports, core, reconcile, cli and controller may
// all use it.

export const ErrorCodes = {
  /** Input that does not parse or does not validate: a spec, a flag, a manifest, a reference. */
  E_INVALID: 'E_INVALID',
  E_SPEC_INVALID: 'E_SPEC_INVALID',
  E_REFERENCE_INVALID: 'E_REFERENCE_INVALID',
  E_PLATFORM_INVALID: 'E_PLATFORM_INVALID',
  E_DIGEST_INVALID: 'E_DIGEST_INVALID',
  E_MANIFEST_INVALID: 'E_MANIFEST_INVALID',
  E_UNSUPPORTED: 'E_UNSUPPORTED',
  /** Bytes whose hash is not the digest they were asked for or announced with. */
  E_DIGEST_MISMATCH: 'E_DIGEST_MISMATCH',
  E_NOT_FOUND: 'E_NOT_FOUND',
  E_MANIFEST_UNKNOWN: 'E_MANIFEST_UNKNOWN',
  E_BLOB_UNKNOWN: 'E_BLOB_UNKNOWN',
  E_REGISTRY_UNAUTHORIZED: 'E_REGISTRY_UNAUTHORIZED',
  E_REGISTRY_DENIED: 'E_REGISTRY_DENIED',
  E_REGISTRY: 'E_REGISTRY',
  E_TLS: 'E_TLS',
  E_NETWORK: 'E_NETWORK',
  E_TOO_MANY_REQUESTS: 'E_TOO_MANY_REQUESTS',
  E_LOCKED: 'E_LOCKED',
  E_STORE: 'E_STORE',
  E_CONFLICT: 'E_CONFLICT',
  E_SIGN: 'E_SIGN',
  /** Stopped by SIGINT/SIGTERM: transfers aborted, nothing more started. */
  E_INTERRUPTED: 'E_INTERRUPTED',
  E_INTERNAL: 'E_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface PlaitErrorOptions {
  /** Whether trying the same operation again later may succeed (network, 5xx, 429, a held lock). */
  retryable?: boolean;
  cause?: unknown;
  /** Extra machine-readable facts (the reference, the JSON path, the HTTP status…). Never secrets. */
  details?: Record<string, unknown>;
}

export class PlaitError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: PlaitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PlaitError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

export function isPlaitError(e: unknown, code?: ErrorCode): e is PlaitError {
  return e instanceof PlaitError && (code === undefined || e.code === code);
}

/** Wrap anything thrown into a PlaitError, keeping an existing one as it is. */
export function asPlaitError(e: unknown, fallback: ErrorCode = ErrorCodes.E_INTERNAL): PlaitError {
  if (e instanceof PlaitError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new PlaitError(fallback, message, { cause: e });
}
