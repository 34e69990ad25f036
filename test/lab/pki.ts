import { mkdir, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './proc.js';

export interface LabPki {
  /** PEM of the lab CA; trust it to talk to the TLS registry. */
  caFile: string;
  /** A containers-style cert dir (`*.crt` CA files) for --cert-dir / certs.d. */
  certDir: string;
  serverCert: string;
  serverKey: string;
  /** Key and self-signed certificate the token issuer signs JWTs with (the registry's rootcertbundle). */
  tokenKey: string;
  tokenCert: string;
}

// Everything is made fresh per run with the real openssl: a CA, a server certificate for localhost/127.0.0.1/::1
// signed by it, and an EC P-256 signing certificate for the token issuer.
export async function makePki(dir: string): Promise<LabPki> {
  await mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '2',
    '-subj', '/CN=plait lab CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  await writeFile(p('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-subj', '/CN=localhost',
    '-keyout', p('server.key'), '-out', p('server.csr')]);
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-days', '2', '-sha256', '-extfile', p('server.ext'), '-out', p('server.crt')]);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '2',
    '-subj', '/CN=plait lab token signer', '-keyout', p('token.key'), '-out', p('token.crt')]);
  const certDir = p('certs.d');
  await mkdir(certDir, { recursive: true });
  await copyFile(p('ca.crt'), join(certDir, 'ca.crt'));
  return {
    caFile: p('ca.crt'),
    certDir,
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    tokenKey: p('token.key'),
    tokenCert: p('token.crt'),
  };
}

/** A bcrypt htpasswd line from the real htpasswd (apache2-utils): distribution only accepts bcrypt. */
export async function htpasswdLine(user: string, password: string): Promise<string> {
  return (await run('htpasswd', ['-Bbn', user, password])).trim();
}
