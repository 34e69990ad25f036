import { PlaitError, ErrorCodes } from '../../errors.js';
import type { ErrorCode } from '../../errors.js';

// Registry error bodies are `{"errors":[{"code","message","detail"}]}` for 4xx (distribution-spec); containers/image
// reports the first. Map them onto plait's stable codes, with the registry and the subject in the message.

interface RegistryErrorBody { errors?: Array<{ code?: string; message?: string; detail?: unknown }> }

export function parseErrorBody(body: Buffer | string): { code: string; message: string } | undefined {
  try {
    const parsed = JSON.parse(body.toString()) as RegistryErrorBody;
    const first = parsed.errors?.[0];
    if (first?.code) return { code: first.code, message: first.message ?? '' };
  } catch {
    // not JSON: fall through
  }
  return undefined;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

export function registryError(host: string, what: string, status: number, body: Buffer | string): PlaitError {
  const parsed = status >= 400 && status < 500 ? parseErrorBody(body) : undefined;
  let code: ErrorCode = ErrorCodes.E_REGISTRY;
  switch (parsed?.code) {
    case 'UNAUTHORIZED': code = ErrorCodes.E_REGISTRY_UNAUTHORIZED; break;
    case 'DENIED': code = ErrorCodes.E_REGISTRY_DENIED; break;
    case 'MANIFEST_UNKNOWN': code = ErrorCodes.E_MANIFEST_UNKNOWN; break;
    case 'BLOB_UNKNOWN': code = ErrorCodes.E_BLOB_UNKNOWN; break;
    case 'NAME_UNKNOWN': code = ErrorCodes.E_NOT_FOUND; break;
    case 'TOOMANYREQUESTS': code = ErrorCodes.E_TOO_MANY_REQUESTS; break;
    default:
      if (status === 401) code = ErrorCodes.E_REGISTRY_UNAUTHORIZED;
      else if (status === 403) code = ErrorCodes.E_REGISTRY_DENIED;
      else if (status === 404) code = ErrorCodes.E_NOT_FOUND;
      else if (status === 429) code = ErrorCodes.E_TOO_MANY_REQUESTS;
  }
  const text = parsed
    ? `${parsed.code}${parsed.message ? `: ${parsed.message}` : ''}`
    : `HTTP ${status}${body.length > 0 && status >= 400 && status < 500 ? `: ${body.toString().slice(0, 50).trim()}` : ''}`;
  return new PlaitError(code, `${host}: ${what}: ${text}`, {
    retryable: RETRYABLE_STATUS.has(status) || status === 429,
    details: { status, registryCode: parsed?.code, host },
  });
}
