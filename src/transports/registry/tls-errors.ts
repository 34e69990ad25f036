import { PlaitError, ErrorCodes } from '../../errors.js';

// A failed TLS handshake in one line that says what happened and which flag fixes it, instead of OpenSSL's dump
// ("C0…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/…").

/**
 * How the one running plait fixes each kind of TLS failure. The CLI's are its flags (`flagRemedies`); a caller that
 * has no flags — the controller, configured by its object and its registries.conf — gives its own, so a hint never
 * names a flag its user cannot pass.
 */
export interface TlsRemedies {
  /** For a registry that answered plain HTTP. */
  plainHttp: string;
  /** The last resort each certificate hint offers, as the words after "or": stop verifying this registry. */
  insecure: string;
  /** How to trust the registry's CA; `certDir` is where the CAs given for this run are, if any were. */
  trustCa(host: string, certDir: string | undefined): string;
  /** How to present a client certificate. */
  clientCert(host: string): string;
}

/** The CLI's remedies: its flags, for the side the registry was reached from (`prefix`: "--dest-", "--src-", "--"). */
export function flagRemedies(prefix: string): TlsRemedies {
  const noVerify = `${prefix}tls-verify=false`;
  return {
    plainHttp: `use ${prefix}plain-http (or ${noVerify}) for it`,
    insecure: `use ${noVerify}`,
    trustCa: (host, certDir) => certDir !== undefined
      ? `no CA in ${certDir} signed it: put the registry's CA there as a *.crt file`
      : `trust its CA with ${prefix}cert-dir DIR or a *.crt file in ~/.config/containers/certs.d/${host}/ (or /etc/containers/certs.d/${host}/)`,
    clientCert: (host) => `put NAME.cert and NAME.key in ${prefix}cert-dir DIR or in certs.d/${host}/`,
  };
}

export interface TlsHintOptions {
  /** What each hint tells the user to do (default: the un-prefixed flags, `flagRemedies('--')`). */
  remedies?: TlsRemedies;
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
  const fix = o.remedies ?? flagRemedies('--');
  const all = causes(e);
  const code = all.map((c) => c.code ?? '').find((c) => c !== '' && !c.startsWith('UND_ERR')) ?? '';
  const text = all.map((c) => `${c.reason ?? ''} ${c.message ?? ''}`).join(' ');
  let line: string;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || /wrong version number|packet length too long/i.test(text)) {
    line = `${host} answered plain HTTP to a TLS request: ${fix.plainHttp}`;
  } else if (UNKNOWN_CA.has(code)) {
    line = `${host}: its TLS certificate is signed by an unknown authority: ${fix.trustCa(host, o.certDir)}, or ${fix.insecure}`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = all.map((c) => c.cert?.subjectaltname).find((n) => n !== undefined);
    line = `${host}: its TLS certificate is not for that name${names ? ` (it is for ${names})` : ''}: reach it by a name the certificate covers, or ${fix.insecure}`;
  } else if (code === 'CERT_HAS_EXPIRED') {
    line = `${host}: its TLS certificate has expired: the registry must renew it (or ${fix.insecure})`;
  } else if (code === 'CERT_NOT_YET_VALID') {
    line = `${host}: its TLS certificate is not valid yet: check this machine's clock (or ${fix.insecure})`;
  } else if (/certificate required/i.test(text)) {
    line = `${host} wants a client certificate: ${fix.clientCert(host)}`;
  } else {
    // Keep OpenSSL's reason ("sslv3 alert handshake failure"), never its whole dump.
    const reason = all.map((c) => c.reason).find((r) => r) ?? (all[0]?.message ?? 'handshake failed').split('\n')[0]!.replace(/^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:/, '').split(':')[0];
    line = `${host}: TLS handshake failed: ${reason}${code ? ` (${code})` : ''}`;
  }
  return new PlaitError(ErrorCodes.E_TLS, line, { cause: e, details: { host, ...(code && { tlsCode: code }) } });
}
