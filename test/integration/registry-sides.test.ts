import { describe, it, expect, inject, afterAll, beforeAll } from 'vitest';
import { mkdtemp, writeFile, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, closeAllClients } from '../../src/transports/index.js';
import type { TransportOptions } from '../../src/transports/index.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { run } from '../lab/proc.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { runPlait } from '../helpers/cli.js';

// Per-side registry flags (--src-…/--dest-…) and the rule that a flag credential reaches one registry only, checked
// against the lab's TLS+htpasswd registry and its token registry in one run, with the registries' own logs (and the
// token issuer's) as witnesses; and the one-line TLS failures.

const lab = inject('lab');
const peers = inject('peers');
const plain: TransportOptions = { plainHttp: true };
const tlsCreds = `${lab.tls.user.name}:${lab.tls.user.password}`;
const tokenCreds = `${lab.token.pusher.name}:${lab.token.pusher.password}`;
const tlsOpts: TransportOptions = { certDir: lab.certDir, creds: tlsCreds };
const tokenOpts: TransportOptions = { plainHttp: true, creds: tokenCreds };
const tmp = (p: string) => mkdtemp(join(tmpdir(), `plait-${p}-`));
const secrets = [lab.tls.user.password, lab.token.pusher.password];

/** A HOME with no auth files and no certs.d, so only the flags given count. */
async function isolated(): Promise<NodeJS.ProcessEnv> {
  const home = await tmp('home');
  return { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), DOCKER_CONFIG: join(home, '.docker'), REGISTRY_AUTH_FILE: '' };
}

const sizeOf = async (f: string) => (await stat(f)).size;
const since = async (f: string, mark: number) => (await readFile(f)).subarray(mark).toString('utf8');

function specYaml(name: string, sources: string[], dest: string): string {
  return `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${name}
spec:
  destination:
    image: ${dest}
    tags: [v1]
  sources:
${sources.map((s) => `    - image: ${s}`).join('\n')}
`;
}

afterAll(() => closeAllClients());

describe('per-side registry flags', () => {
  const srcA = `${lab.tls.host}/lab/sides-a:v1`;
  const srcB = `${lab.tls.host}/lab/sides-b:v1`;

  beforeAll(async () => {
    await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, plain), openImage(`docker://${srcA}`, tlsOpts));
    await copyImage(openImage(`docker://${peers.singles[1]!.ref}`, plain), openImage(`docker://${srcB}`, tlsOpts));
  });

  it('--src-creds and --dest-creds each reach only their own registry (registry and token issuer logs)', async () => {
    const dir = await tmp('sides');
    const dest = `${lab.token.host}/lab/sides-out`;
    await writeFile(join(dir, 'ml.yaml'), specYaml('sides', [srcA, srcB], dest));
    const tlsMark = await logMark(lab.tls.accessLog);
    const issuerMark = await sizeOf(lab.token.issuerLog);
    const tokenMark = await logMark(lab.token.accessLog);
    const r = await runPlait(['apply', '--store', join(dir, 'store'),
      '--src-cert-dir', lab.certDir, '--src-creds', tlsCreds,
      '--dest-plain-http', '--dest-creds', tokenCreds, join(dir, 'ml.yaml')], { env: await isolated() });
    expect(r.stderr).not.toMatch(/plait: /);
    expect(r.code).toBe(0);
    for (const s of secrets) expect(r.stdout.toString() + r.stderr).not.toContain(s);
    expect((await openImage(`docker://${dest}:v1`, tokenOpts).resolve())?.digest).toMatch(/^sha256:/);

    // The token issuer (the destination's realm) saw only the destination's user, never the source's.
    await entriesSince(lab.token.accessLog, tokenMark);
    const issued = (await since(lab.token.issuerLog, issuerMark)).split('\n').filter(Boolean);
    expect(issued.length).toBeGreaterThan(0);
    for (const line of issued) expect(line).toContain(`user=${lab.token.pusher.name}`);
    // The TLS registry authenticated its own user and never heard of the token registry's.
    await entriesSince(lab.tls.accessLog, tlsMark);
    const tlsLog = await since(lab.tls.accessLog, tlsMark);
    expect(tlsLog).toContain('authorized request');
    expect(tlsLog).not.toContain(lab.token.pusher.name);
    expect(tlsLog).not.toMatch(/authentication failure|error authenticating/);

    // The witnesses would have seen it: the wrong user offered to each registry is logged by name.
    const controlTls = await logMark(lab.tls.accessLog);
    const controlIssuer = await sizeOf(lab.token.issuerLog);
    await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, '--creds', tokenCreds, `docker://${srcA}`], { env: await isolated() });
    await runPlait(['inspect', '--raw', '--plain-http', '--creds', tlsCreds, `docker://${dest}:v1`], { env: await isolated() });
    await entriesSince(lab.tls.accessLog, controlTls);
    expect(await since(lab.tls.accessLog, controlTls)).toContain(`error authenticating user \\"${lab.token.pusher.name}\\"`);
    expect(await since(lab.token.issuerLog, controlIssuer)).toContain(`401 user=${lab.tls.user.name}`);
  });

  it('TLS verification stays on for the side that did not turn it off', async () => {
    const dir = await tmp('sides-tls');
    const dest = `${lab.token.host}/lab/sides-verify`;
    await writeFile(join(dir, 'ml.yaml'), specYaml('sides-verify', [srcA], dest));
    const env = await isolated();
    const tokenMark = await logMark(lab.token.accessLog);
    // The destination (plain HTTP) is reached with verification off; the TLS source keeps it, and its CA is unknown.
    const r = await runPlait(['apply', '--store', join(dir, 'store'), '--src-creds', tlsCreds,
      '--dest-tls-verify=false', '--dest-creds', tokenCreds, join(dir, 'ml.yaml')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${lab.tls.host}: its TLS certificate is signed by an unknown authority`);
    expect(r.stderr).toContain('--src-cert-dir');
    expect((await entriesSince(lab.token.accessLog, tokenMark)).filter((e) => e.method === 'PUT')).toEqual([]);
    // Turning it off for the sources only is enough; --tls-verify=false still means both sides.
    const off = await runPlait(['apply', '--store', join(dir, 'store'), '--src-tls-verify=false', '--src-creds', tlsCreds,
      '--dest-plain-http', '--dest-creds', tokenCreds, join(dir, 'ml.yaml')], { env });
    expect(off.stderr).not.toMatch(/plait: /);
    expect(off.code).toBe(0);
  });

  it('a flag credential that would reach two registries is refused before any request', async () => {
    const dir = await tmp('sides-two');
    await writeFile(join(dir, 'ml.yaml'), specYaml('sides-two', [srcA], `${lab.token.host}/lab/sides-two`));
    const tlsMark = await logMark(lab.tls.accessLog);
    const tokenMark = await logMark(lab.token.accessLog);
    const r = await runPlait(['apply', '--store', join(dir, 'store'), '--cert-dir', lab.certDir, '--creds', tlsCreds,
      join(dir, 'ml.yaml')], { env: await isolated() });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`--creds would be offered to two registries (${[lab.tls.host, lab.token.host].sort().join(' and ')})`);
    expect(r.stderr).not.toContain(lab.tls.user.password);
    expect(await entriesSince(lab.tls.accessLog, tlsMark)).toEqual([]);
    expect(await entriesSince(lab.token.accessLog, tokenMark)).toEqual([]);
  });

  it('manifest push: --src-… for the instances, --dest-… for DEST', async () => {
    const env = await isolated();
    const store = join(await tmp('sides-push'), 'store');
    const add = await runPlait(['manifest', 'create', '--store', store, '--cert-dir', lab.certDir, '--creds', tlsCreds, 'sides-push', `docker://${srcA}`], { env });
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const issuerMark = await sizeOf(lab.token.issuerLog);
    const dest = `docker://${lab.token.host}/lab/sides-push:v1`;
    const refused = await runPlait(['manifest', 'push', '--store', store, '--cert-dir', lab.certDir, '--creds', tlsCreds, '--dest-plain-http', 'sides-push', dest], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--creds would be offered to two registries');
    const ok = await runPlait(['manifest', 'push', '--store', store, '--src-cert-dir', lab.certDir, '--src-creds', tlsCreds,
      '--dest-plain-http', '--dest-creds', tokenCreds, 'sides-push', dest], { env });
    expect(ok.stderr).toMatch(/^Writing manifest list to /);
    expect(ok.code).toBe(0);
    for (const line of (await since(lab.token.issuerLog, issuerMark)).split('\n').filter(Boolean)) expect(line).toContain(`user=${lab.token.pusher.name}`);
  });
});

describe('TLS failures in one line', () => {
  const noDump = (s: string) => {
    expect(s.trim().split('\n')).toHaveLength(1);
    expect(s).not.toMatch(/SSL routines|ssl3_|error:[0-9A-F]{8}|deps\/openssl/);
  };

  it('a plain-HTTP registry reached over TLS names the flag that fixes it', async () => {
    const env = await isolated();
    const r = await runPlait(['inspect', '--raw', `docker://${peers.singles[0]!.ref}`], { env });
    expect(r.code).toBe(1);
    noDump(r.stderr);
    expect(r.stderr).toBe(`plait: ${lab.plain.host} answered plain HTTP to a TLS request: use --plain-http (or --tls-verify=false) for it\n`);
    // On a command with sides, the hint names the side's flag.
    const dir = await tmp('plain-dest');
    await writeFile(join(dir, 'ml.yaml'), specYaml('plain-dest', [peers.singles[0]!.ref], `${lab.plain.host}/lab/plain-dest`));
    const a = await runPlait(['apply', '--store', join(dir, 'store'), '--src-plain-http', join(dir, 'ml.yaml')], { env });
    expect(a.code).toBe(1);
    expect(a.stderr).toContain(`${lab.plain.host} answered plain HTTP to a TLS request: use --dest-plain-http (or --dest-tls-verify=false) for it`);
    expect(a.stderr).not.toMatch(/SSL routines|ssl3_/);
  });

  it('unknown CA names --cert-dir and certs.d', async () => {
    const r = await runPlait(['inspect', '--raw', '--creds', tlsCreds, `docker://${lab.tls.host}/lab/sides-a:v1`], { env: await isolated() });
    expect(r.code).toBe(1);
    noDump(r.stderr);
    expect(r.stderr).toContain(`${lab.tls.host}: its TLS certificate is signed by an unknown authority: trust its CA with --cert-dir DIR or a *.crt file in ~/.config/containers/certs.d/${lab.tls.host}/`);
  });

  it('verification is on by default at the destination: apply and manifest push refuse an unknown CA, push nothing; --dest-cert-dir or --dest-tls-verify=false let them through', async () => {
    const env = await isolated();
    const dir = await tmp('tls-dest');
    const store = join(dir, 'store');
    const dest = `${lab.tls.host}/lab/tls-default`;
    await writeFile(join(dir, 'ml.yaml'), specYaml('tls-default', [peers.singles[0]!.ref], dest));
    const side = ['--store', store, '--src-tls-verify=false', '--dest-creds', tlsCreds];
    const hint = `${lab.tls.host}: its TLS certificate is signed by an unknown authority: trust its CA with --dest-cert-dir DIR or a *.crt file in ~/.config/containers/certs.d/${lab.tls.host}/`;
    const writes = async (mark: number) => (await entriesSince(lab.tls.accessLog, mark)).filter((e) => e.method === 'PUT' || e.method === 'POST' || e.method === 'PATCH');

    // No flag: refused. The handshake fails, so the registry logs no request at all, let alone a write.
    let mark = await logMark(lab.tls.accessLog);
    const a = await runPlait(['apply', ...side, join(dir, 'ml.yaml')], { env });
    expect(a.code).toBe(1);
    expect(a.stderr).toContain(hint);
    expect(a.stderr).toContain('--dest-tls-verify=false');
    expect(await entriesSince(lab.tls.accessLog, mark)).toEqual([]);

    const create = await runPlait(['manifest', 'create', '--store', store, '--tls-verify=false', 'tls-default', `docker://${peers.singles[0]!.ref}`], { env });
    expect(create.code, create.stderr).toBe(0);
    mark = await logMark(lab.tls.accessLog);
    const p = await runPlait(['manifest', 'push', ...side, 'tls-default', `docker://${dest}:pushed`], { env });
    expect(p.code).toBe(1);
    noDump(p.stderr);
    expect(p.stderr).toBe(`plait: ${hint} (or /etc/containers/certs.d/${lab.tls.host}/), or use --dest-tls-verify=false\n`);
    expect(await entriesSince(lab.tls.accessLog, mark)).toEqual([]);

    // The lab CA through --dest-cert-dir, or verification off for the destination only: accepted, and written.
    for (const [i, fix] of [['--dest-cert-dir', lab.certDir], ['--dest-tls-verify=false']].entries()) {
      mark = await logMark(lab.tls.accessLog);
      const ok = await runPlait(['apply', ...side, ...fix, join(dir, 'ml.yaml')], { env });
      expect(ok.code, ok.stderr).toBe(0);
      const pushed = await runPlait(['manifest', 'push', ...side, ...fix, 'tls-default', `docker://${dest}:pushed-${i}`], { env });
      expect(pushed.code, pushed.stderr).toBe(0);
      expect((await writes(mark)).length).toBeGreaterThan(0);
    }
  });

  describe('hostname mismatch and expiry (the lab CA, a name it does not cover, dates long past)', () => {
    const servers: Server[] = [];
    const hosts: Record<'mismatch' | 'expired', string> = { mismatch: '', expired: '' };

    beforeAll(async () => {
      const dir = await tmp('tls-bad');
      const pki = join(lab.root, 'pki');
      await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=elsewhere.invalid',
        '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr')]);
      await writeFile(join(dir, 'other.ext'), 'subjectAltName=DNS:elsewhere.invalid\n');
      await run('openssl', ['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'),
        '-CAcreateserial', '-CAserial', join(dir, 'ca.srl'), '-days', '2', '-extfile', join(dir, 'other.ext'), '-out', join(dir, 'mismatch.crt')]);
      // `openssl ca` is the one way OpenSSL 3.0 signs with dates in the past.
      await writeFile(join(dir, 'ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n');
      await writeFile(join(dir, 'index.txt'), '');
      await writeFile(join(dir, 'serial'), '01\n');
      await writeFile(join(dir, 'ip.ext'), 'subjectAltName=IP:127.0.0.1\n');
      await run('openssl', ['ca', '-batch', '-notext', '-config', join(dir, 'ca.cnf'), '-cert', join(pki, 'ca.crt'), '-keyfile', join(pki, 'ca.key'),
        '-in', join(dir, 'server.csr'), '-out', join(dir, 'expired.crt'), '-startdate', '20200101000000Z', '-enddate', '20200102000000Z',
        '-extfile', join(dir, 'ip.ext')], { cwd: dir });
      const key = await readFile(join(dir, 'server.key'));
      for (const which of ['mismatch', 'expired'] as const) {
        const server = createServer({ key, cert: await readFile(join(dir, `${which}.crt`)) }, (_req, res) => {
          res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' });
          res.end('{}');
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const addr = server.address();
        hosts[which] = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
        servers.push(server);
      }
    });

    afterAll(async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    });

    it('hostname mismatch', async () => {
      const r = await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, `docker://${hosts.mismatch}/x:y`], { env: await isolated() });
      expect(r.code).toBe(1);
      noDump(r.stderr);
      expect(r.stderr).toContain(`${hosts.mismatch}: its TLS certificate is not for that name (it is for DNS:elsewhere.invalid)`);
    });

    it('expired certificate', async () => {
      const r = await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, `docker://${hosts.expired}/x:y`], { env: await isolated() });
      expect(r.code).toBe(1);
      noDump(r.stderr);
      expect(r.stderr).toContain(`${hosts.expired}: its TLS certificate has expired`);
    });
  });
});
