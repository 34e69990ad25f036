import { PlaitError, ErrorCodes } from '../../errors.js';

// A failed TLS handshake in one line that says what happened and which flag fixes it, instead of OpenSSL's dump
// ("C0…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/…").

export interface TlsHintOptions {
  /** "--dest-", "--src-" or "--": the flags of the side the registry was reached from. */
  flagPrefix?: string;
  certDir?: string;
}

const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED',
]);

interface TlsCause { code?: string; message?: string; reason?: string; cert?: { subjectaltname?: string; subject?: { CN?: string } } }

function causes(e: unknown): TlsCause[] {
  const out: TlsCause[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

/** Whether the error is a TLS handshake or certificate failure (not a refused connection or a reset). */
export function isTlsFailure(e: unknown): boolean {
  return causes(e).some((c) => {
    const code = c.code ?? '';
    return UNKNOWN_CA.has(code) || /^ERR_SSL_|^ERR_TLS_|^CERT_|_CERT$|_CERT_/.test(code)
      || /wrong version number|certificate|ssl routines|packet length too long/i.test(c.message ?? '');
  });
}

/** The one-line PlaitError for a TLS failure talking to `host`. */
export function tlsError(host: string, e: unknown, o: TlsHintOptions = {}): PlaitError {
  const p = o.flagPrefix ?? '--';
  const all = causes(e);
  const code = all.map((c) => c.code ?? '').find((c) => c !== '' && !c.startsWith('UND_ERR')) ?? '';
  const text = all.map((c) => `${c.reason ?? ''} ${c.message ?? ''}`).join(' ');
  const insecure = `${p}tls-verify=false`;
  let line: string;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || /wrong version number|packet length too long/i.test(text)) {
    line = `${host} answered plain HTTP to a TLS request: use ${p}plain-http (or ${insecure}) for it`;
  } else if (UNKNOWN_CA.has(code)) {
    const trust = o.certDir !== undefined
      ? `no CA in ${o.certDir} signed it: put the registry's CA there as a *.crt file`
      : `trust its CA with ${p}cert-dir DIR or a *.crt file in ~/.config/containers/certs.d/${host}/ (or /etc/containers/certs.d/${host}/)`;
    line = `${host}: its TLS certificate is signed by an unknown authority: ${trust}, or use ${insecure}`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = all.map((c) => c.cert?.subjectaltname).find((n) => n !== undefined);
    line = `${host}: its TLS certificate is not for that name${names ? ` (it is for ${names})` : ''}: reach it by a name the certificate covers, or use ${insecure}`;
  } else if (code === 'CERT_HAS_EXPIRED') {
    line = `${host}: its TLS certificate has expired: the registry must renew it (or use ${insecure})`;
  } else if (code === 'CERT_NOT_YET_VALID') {
    line = `${host}: its TLS certificate is not valid yet: check this machine's clock (or use ${insecure})`;
  } else if (/certificate required/i.test(text)) {
    line = `${host} wants a client certificate: put NAME.cert and NAME.key in ${p}cert-dir DIR or in certs.d/${host}/`;
  } else {
    // Keep OpenSSL's reason ("sslv3 alert handshake failure"), never its whole dump.
    const reason = all.map((c) => c.reason).find((r) => r) ?? (all[0]?.message ?? 'handshake failed').split('\n')[0]!.replace(/^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:/, '').split(':')[0];
    line = `${host}: TLS handshake failed: ${reason}${code ? ` (${code})` : ''}`;
  }
  return new PlaitError(ErrorCodes.E_TLS, line, { cause: e, details: { host, ...(code && { tlsCode: code }) } });
}
