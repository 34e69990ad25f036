// Every kind of secret plait handles goes through every way it can take one, against the real lab registries (TLS +
// htpasswd, token auth with the lab's own issuer), and then every byte plait wrote is searched for every secret in
// every encoding it could leak in: stdout and stderr (text and JSON logs, -o json, PLAIT_DEBUG stack traces of failing
// runs), the GitHub step summary, `plait history`, every file under the store and the lookaside, and what the
// registries and the issuer logged (URLs with their query strings).
//
// The secrets: registry passwords (--creds, --src-creds, --dest-creds, auth.json "auth"), an auth.json identity token
// (OAuth2 refresh token), the bearer tokens the issuer hands out, the passphrases of a cosign key and a GPG key (from a
// passphrase file, PLAIT_PASSPHRASE and a spec's {env}), wrong passwords and passphrases offered on purpose, and the
// private keys themselves — both as stored (encrypted PEM / armour) and decrypted.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { closeAllClients, openImage } from '../../src/transports/index.js';
import type { TransportOptions } from '../../src/transports/index.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { generateCosignKeyPair, readCosignPrivateKey } from '../../src/core/sign/cosign-key.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { runPlait } from '../helpers/cli.js';
import type { PlaitRun } from '../helpers/cli.js';

const lab = inject('lab');
const peers = inject('peers');
const rnd = () => randomBytes(9).toString('base64url');

const TLS_USER = lab.tls.user;
const ODD = lab.token.odd;
const COSIGN_PASS = `cosign ${rnd()} :@/+%&?=#"\\é`;
const GPG_PASS = `gpg ${rnd()} '$(x)' <>&é`;
const WRONG_PASSWORD = `wrong-pw-${rnd()}`;
const WRONG_PASSPHRASE = `wrong-pass-${rnd()}`;
const WRONG_TOKEN = `wrong-it-${rnd()}`;

interface Row {
  name: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Exit code: 0 for the runs whose secrets must really have been used, 1 for the failures. */
  code: 0 | 1;
  /** For failures: what stderr must say (so the run failed for the reason the row is about). */
  says?: RegExp;
}

/** The forms a secret could leak in: as is, base64 (alone and as user:secret), URL and form encoded, JSON-escaped. */
function forms(secret: string, user?: string): string[] {
  const out = new Set([secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret),
    new URLSearchParams({ x: secret }).toString().slice(2), JSON.stringify(secret).slice(1, -1)]);
  if (user !== undefined) {
    out.add(Buffer.from(`${user}:${secret}`).toString('base64'));
    out.add(Buffer.from(`${user}:${secret}`).toString('base64url'));
  }
  return [...out];
}

/** The base64 body lines of a PEM or armoured block, long enough not to turn up by chance. */
function bodyLines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length >= 24 && /^[A-Za-z0-9+/=]+$/.test(l));
}

async function filesUnder(dir: string): Promise<Array<{ path: string; text: string }>> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d)) {
      const p = join(d, e);
      const s = await stat(p);
      if (s.isDirectory()) await walk(p);
      else out.push({ path: p, text: (await readFile(p)).toString('latin1') });
    }
  };
  await walk(dir);
  return out;
}

const sizeOf = async (f: string) => (await stat(f)).size;
const since = async (f: string, mark: number) => (await readFile(f)).subarray(mark).toString('latin1');

let dir: string;
let store: string;
let summary: string;
let lookaside: string;
let env: NodeJS.ProcessEnv;
/** Named needles: every form of every secret. */
const needles: Array<{ what: string; value: string }> = [];
const need = (what: string, values: string[]) => {
  for (const value of values) needles.push({ what, value });
};
const marks: Record<string, number> = {};
const logs = () => ({ tlsAccess: lab.tls.accessLog, tokenAccess: lab.token.accessLog, issuer: lab.token.issuerLog });

function specYaml(name: string, repo: string, passphrases: { cosign: string; gpg: string }): string {
  return `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${name}
spec:
  destination:
    image: ${lab.token.host}/secrets/${repo}
    tags: [v1]
  sources:
    - image: ${lab.tls.host}/secrets/src:v1
  signatures:
    sigstore:
      - privateKey: {file: cosign.key}
        passphrase: ${passphrases.cosign}
    gpg:
      - key: {file: gpg.sec.asc}
        passphrase: ${passphrases.gpg}
        lookaside: file://${lookaside}
`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-secrets-'));
  store = join(dir, 'store');
  summary = join(dir, 'summary.md');
  lookaside = join(dir, 'lookaside');
  await mkdir(lookaside);
  const home = join(dir, 'home');
  await mkdir(home);
  env = { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), DOCKER_CONFIG: join(home, '.docker'),
    REGISTRY_AUTH_FILE: '', PLAIT_PASSPHRASE: undefined, GITHUB_STEP_SUMMARY: summary, PLAIT_REGISTRY_TIMEOUT: '20' };

  // The cosign key: the file as written, the decrypted PKCS#8 key and its private scalar.
  const pair = await generateCosignKeyPair(COSIGN_PASS);
  await writeFile(join(dir, 'cosign.key'), pair.privatePem, { mode: 0o600 });
  const cosignKey = await readCosignPrivateKey(pair.privatePem, COSIGN_PASS);
  need('cosign key file', bodyLines(pair.privatePem));
  need('cosign key, decrypted', bodyLines(cosignKey.export({ type: 'pkcs8', format: 'pem' }).toString()));
  need('cosign private scalar', [cosignKey.export({ format: 'jwk' }).d!]);

  // The GPG key: the armoured, encrypted key and the same key decrypted (its secret packets in the clear).
  const gen = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Secrets Test', email: 'secrets@example.invalid' }], passphrase: GPG_PASS, format: 'armored' });
  await writeFile(join(dir, 'gpg.sec.asc'), gen.privateKey, { mode: 0o600 });
  const decrypted = await openpgp.decryptKey({ privateKey: await openpgp.readPrivateKey({ armoredKey: gen.privateKey }), passphrase: GPG_PASS });
  const publicLines = new Set(bodyLines(gen.publicKey));
  need('GPG key file', bodyLines(gen.privateKey).filter((l) => !publicLines.has(l)));
  need('GPG key, decrypted', bodyLines(decrypted.armor()).filter((l) => !publicLines.has(l)));

  await writeFile(join(dir, 'cosign.pass'), `${COSIGN_PASS}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'gpg.pass'), `${GPG_PASS}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'wrong.pass'), `${WRONG_PASSPHRASE}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'token.yaml'), specYaml('secrets-flags', 'flags', { cosign: '{file: cosign.pass}', gpg: '{env: SECRETS_GPG_PASS}' }));
  await writeFile(join(dir, 'authfile.yaml'), specYaml('secrets-authfile', 'authfile', { cosign: '{env: SECRETS_COSIGN_PASS}', gpg: '{file: gpg.pass}' }));
  await writeFile(join(dir, 'wrong.yaml'), specYaml('secrets-wrong', 'wrong', { cosign: '{file: wrong.pass}', gpg: '{file: gpg.pass}' }));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await writeFile(join(dir, 'auth.json'), JSON.stringify({ auths: {
    [lab.tls.host]: { auth: b64(`${TLS_USER.name}:${TLS_USER.password}`) },
    [lab.token.host]: { identitytoken: lab.token.identityToken },
  } }), { mode: 0o600 });
  await writeFile(join(dir, 'wrong-auth.json'), JSON.stringify({ auths: { [lab.token.host]: { identitytoken: WRONG_TOKEN } } }), { mode: 0o600 });

  need('TLS registry password', forms(TLS_USER.password, TLS_USER.name));
  need('token registry password (odd characters)', forms(ODD.password, ODD.name));
  need('token registry password (pusher)', forms(lab.token.pusher.password, lab.token.pusher.name));
  need('identity token', forms(lab.token.identityToken));
  need('cosign passphrase', forms(COSIGN_PASS));
  need('GPG passphrase', forms(GPG_PASS));
  need('a wrong password offered', forms(WRONG_PASSWORD, TLS_USER.name));
  need('a wrong passphrase offered', forms(WRONG_PASSPHRASE));
  need('a wrong identity token offered', forms(WRONG_TOKEN));

  const tlsOpts: TransportOptions = { certDir: lab.certDir, creds: `${TLS_USER.name}:${TLS_USER.password}` };
  await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, { plainHttp: true }), openImage(`docker://${lab.tls.host}/secrets/src:v1`, tlsOpts));
  await closeAllClients();
  for (const [k, f] of Object.entries(logs())) marks[k] = await sizeOf(f);
}, 180_000);

afterAll(() => closeAllClients());

const S = () => ['--store', store];
const TLS_SRC = () => `docker://${lab.tls.host}/secrets/src:v1`;

/** The table: each way a secret gets in, and each failure that could echo one back. */
function rows(): Row[] {
  const flags = ['--src-cert-dir', lab.certDir, '--src-creds', `${TLS_USER.name}:${TLS_USER.password}`, '--dest-plain-http', '--dest-creds', `${ODD.name}:${ODD.password}`];
  const viaAuthfile = ['--authfile', join(dir, 'auth.json'), '--src-cert-dir', lab.certDir, '--dest-plain-http'];
  const tlsOne = ['--cert-dir', lab.certDir, '--creds', `${TLS_USER.name}:${TLS_USER.password}`];
  const debug = { PLAIT_DEBUG: '1' };
  return [
    { name: 'apply, --src-creds/--dest-creds, spec passphrases from a file and {env}, text log, -o json', code: 0,
      args: ['apply', ...S(), ...flags, '--log-format', 'text', '-o', 'json', join(dir, 'token.yaml')], env: { SECRETS_GPG_PASS: GPG_PASS } },
    { name: 'apply again (in sync), JSON log, table', code: 0,
      args: ['apply', ...S(), ...flags, '--log-format', 'json', join(dir, 'token.yaml')], env: { SECRETS_GPG_PASS: GPG_PASS } },
    { name: 'apply, auth.json (basic "auth" + identity token), JSON log, -o json', code: 0,
      args: ['apply', ...S(), ...viaAuthfile, '--log-format', 'json', '-o', 'json', join(dir, 'authfile.yaml')], env: { SECRETS_COSIGN_PASS: COSIGN_PASS } },
    { name: 'plan -o json, auth.json via REGISTRY_AUTH_FILE', code: 0,
      args: ['plan', ...S(), '--src-cert-dir', lab.certDir, '--dest-plain-http', '-o', 'json', join(dir, 'authfile.yaml')],
      env: { REGISTRY_AUTH_FILE: join(dir, 'auth.json'), SECRETS_COSIGN_PASS: COSIGN_PASS } },
    { name: 'history', code: 0, args: ['history', ...S(), 'secrets-flags'] },
    { name: 'history -o json', code: 0, args: ['history', ...S(), '-o', 'json', 'secrets-authfile'] },
    { name: 'inspect --creds', code: 0, args: ['inspect', '--raw', ...tlsOne, TLS_SRC()] },
    { name: 'inspect with an identity token', code: 0, args: ['inspect', '--raw', '--plain-http', '--authfile', join(dir, 'auth.json'), `docker://${lab.token.host}/secrets/authfile:v1`] },
    { name: 'manifest create/add --creds', code: 0, args: ['manifest', 'create', ...S(), ...tlsOne, 'secrets-push', TLS_SRC()] },
    { name: 'manifest push --creds, sigstore key, --sign-passphrase-file', code: 0,
      args: ['manifest', 'push', ...S(), ...tlsOne, '--sign-by-sigstore-private-key', join(dir, 'cosign.key'), '--sign-passphrase-file', join(dir, 'cosign.pass'),
        'secrets-push', `docker://${lab.tls.host}/secrets/pushed:v1`] },
    { name: 'manifest push --creds, GPG key, PLAIT_PASSPHRASE', code: 0,
      args: ['manifest', 'push', ...S(), ...tlsOne, '--sign-by-gpg-key', join(dir, 'gpg.sec.asc'), '--lookaside', lookaside,
        'secrets-push', `docker://${lab.tls.host}/secrets/pushed:v2`], env: { PLAIT_PASSPHRASE: GPG_PASS } },
    { name: 'key generate --passphrase-file', code: 0, args: ['key', 'generate', '--prefix', join(dir, 'generated'), '--passphrase-file', join(dir, 'cosign.pass')] },

    { name: 'apply: wrong cosign passphrase in the spec (-o json, JSON log, stack traces on)', code: 1, says: /wrong passphrase/,
      args: ['apply', ...S(), ...flags, '--log-format', 'json', '-o', 'json', join(dir, 'wrong.yaml')], env: debug },
    { name: 'apply: wrong cosign passphrase (text log, table)', code: 1, says: /wrong passphrase/,
      args: ['apply', ...S(), ...flags, join(dir, 'wrong.yaml')], env: debug },
    { name: 'manifest push: wrong GPG passphrase in PLAIT_PASSPHRASE', code: 1, says: /wrong passphrase/,
      args: ['manifest', 'push', ...S(), ...tlsOne, '--sign-by-gpg-key', join(dir, 'gpg.sec.asc'), '--lookaside', lookaside, 'secrets-push', `docker://${lab.tls.host}/secrets/pushed:v3`],
      env: { ...debug, PLAIT_PASSPHRASE: WRONG_PASSPHRASE } },
    { name: 'manifest push: the GPG passphrase offered to the cosign key', code: 1, says: /wrong passphrase/,
      args: ['manifest', 'push', ...S(), ...tlsOne, '--sign-by-sigstore-private-key', join(dir, 'cosign.key'), 'secrets-push', `docker://${lab.tls.host}/secrets/pushed:v3`],
      env: { ...debug, PLAIT_PASSPHRASE: GPG_PASS } },
    { name: 'manifest push: an unreadable key (a directory)', code: 1, says: /cannot read key file .*: it is a directory/,
      args: ['manifest', 'push', ...S(), ...tlsOne, '--sign-by-sigstore-private-key', dir, '--sign-passphrase-file', join(dir, 'cosign.pass'), 'secrets-push', `docker://${lab.tls.host}/secrets/pushed:v3`],
      env: debug },
    { name: 'manifest push: a key file that is not a key (the passphrase file)', code: 1, says: /not a PEM file/,
      args: ['manifest', 'push', ...S(), ...tlsOne, '--sign-by-sigstore-private-key', join(dir, 'cosign.pass'), '--sign-passphrase-file', join(dir, 'cosign.pass'), 'secrets-push', `docker://${lab.tls.host}/secrets/pushed:v3`],
      env: debug },
    { name: 'inspect: wrong password (401 from htpasswd)', code: 1, says: new RegExp(lab.tls.host),
      args: ['inspect', '--raw', '--cert-dir', lab.certDir, '--creds', `${TLS_USER.name}:${WRONG_PASSWORD}`, TLS_SRC()], env: debug },
    { name: 'inspect -o json: wrong password at the token issuer', code: 1, says: /authentication failed for user "odd"/,
      args: ['inspect', '-o', 'json', '--plain-http', '--creds', `${ODD.name}:${WRONG_PASSWORD}`, `docker://${lab.token.host}/secrets/flags:v1`], env: debug },
    { name: 'inspect: wrong identity token', code: 1, says: /authentication failed/,
      args: ['inspect', '--raw', '--plain-http', '--authfile', join(dir, 'wrong-auth.json'), `docker://${lab.token.host}/secrets/flags:v1`], env: debug },
    { name: 'apply: wrong password on the destination (JSON log, -o json)', code: 1, says: /authentication failed/,
      args: ['apply', ...S(), '--src-cert-dir', lab.certDir, '--src-creds', `${TLS_USER.name}:${TLS_USER.password}`, '--dest-plain-http', '--dest-creds', `${ODD.name}:${WRONG_PASSWORD}`,
        '--log-format', 'json', '-o', 'json', join(dir, 'token.yaml')], env: { ...debug, SECRETS_GPG_PASS: GPG_PASS } },
  ];
}

/** Every place plait wrote to, as [where, text]. */
async function everything(runs: Array<{ row: Row; r: PlaitRun }>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const { row, r } of runs) {
    out.push([`${row.name}: stdout`, r.stdout.toString('latin1')], [`${row.name}: stderr`, r.stderr]);
  }
  out.push(['step summary', await readFile(summary, 'latin1')]);
  for (const f of [...await filesUnder(store), ...await filesUnder(lookaside)]) out.push([f.path, f.text]);
  for (const [k, f] of Object.entries(logs())) out.push([`${k} log`, await since(f, marks[k]!)]);
  return out;
}

describe('no secret anywhere plait writes', () => {
  const runs: Array<{ row: Row; r: PlaitRun }> = [];

  it('every row ran as it should (so each secret was really used, and each failure failed for its reason)', async () => {
    for (const row of rows()) {
      const r = await runPlait(row.args, { env: { ...env, ...row.env }, cwd: dir });
      runs.push({ row, r });
      expect({ row: row.name, code: r.code }, r.stderr).toEqual({ row: row.name, code: row.code });
      if (row.says) expect(r.stderr, row.name).toMatch(row.says);
    }
    // The identity token was exchanged at the issuer (the OAuth2 form), and bearer tokens were handed out.
    const issued = await since(lab.token.issuerLog, marks.issuer!);
    expect(issued).toMatch(/POST \/token 200 user=pusher grant=refresh_token/);
    expect(issued).toMatch(/GET \/token 200 user=odd/);
    expect(issued).toMatch(/POST \/token 401 grant=refresh_token/);
    // Both kinds of signature were written: .sig attachments and lookaside files.
    expect((await filesUnder(lookaside)).length).toBeGreaterThan(0);
  });

  it('no secret, in any encoding, in any output, log, summary, history, store file or registry log', async () => {
    expect(runs.length).toBe(rows().length);
    const places = await everything(runs);
    // The haystack is what it claims to be: JSON logs, -o json documents, a summary, a store, debug stacks.
    const all = places.map(([, t]) => t).join('\n');
    expect(all).toMatch(/"event":"done"/);
    expect(all).toMatch(/"error": \{/);
    expect(all).toContain('### plait apply');
    expect(all).toMatch(/\n\s+at /);
    expect(places.filter(([w]) => w.startsWith(store)).length).toBeGreaterThan(5);
    expect(needles.length).toBeGreaterThan(40);

    const found: string[] = [];
    for (const [where, text] of places) {
      for (const n of needles) if (text.includes(n.value)) found.push(`${n.what} (${JSON.stringify(n.value.slice(0, 6))}…) in ${where}`);
      // A bearer token of the issuer is a JWT: header.claims.signature, each base64url.
      const jwt = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/.exec(text);
      if (jwt) found.push(`a bearer token (${jwt[0].slice(0, 16)}…) in ${where}`);
    }
    expect(found).toEqual([]);
  });

  it('the search finds what it looks for (a planted secret is reported)', () => {
    const text = `x ${encodeURIComponent(COSIGN_PASS)} y`;
    expect(needles.some((n) => text.includes(n.value))).toBe(true);
    expect(/eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/.test('Bearer eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl')).toBe(true);
  });
});

describe('key files open to group or others', () => {
  const push = (key: string, pass: string, tag: string, extra: NodeJS.ProcessEnv = {}) => runPlait(['manifest', 'push', ...S(), '--cert-dir', lab.certDir,
    '--creds', `${TLS_USER.name}:${TLS_USER.password}`, '--sign-by-sigstore-private-key', key, '--sign-passphrase-file', pass,
    'secrets-perm', `docker://${lab.tls.host}/secrets/perm:${tag}`], { env: { ...env, ...extra }, cwd: dir });
  beforeAll(async () => {
    const r = await runPlait(['manifest', 'create', ...S(), '--cert-dir', lab.certDir, '--creds', `${TLS_USER.name}:${TLS_USER.password}`, 'secrets-perm', TLS_SRC()], { env });
    expect(r.code, r.stderr).toBe(0);
  });
  const warning = (f: string, mode: string, who: string) => `plait: warning: ${f} has mode ${mode}: ${who} can access this secret; make it private with: chmod 600 ${f}`;

  it('0644 key and passphrase file: one warning line each (file, mode, fix), and the push still signs', async () => {
    const key = join(dir, 'loose.key');
    const pass = join(dir, 'loose.pass');
    await writeFile(key, await readFile(join(dir, 'cosign.key')), { mode: 0o644 });
    await writeFile(pass, `${COSIGN_PASS}\n`, { mode: 0o640 });
    await chmod(key, 0o644);
    await chmod(pass, 0o640);
    const r = await push(key, pass, 'loose');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual([warning(pass, '0640', 'its group'), warning(key, '0644', 'its group and others')]);
    expect(lines.slice(2)).toHaveLength(1);
    expect(lines[2]).toMatch(/^Writing manifest list to /);
    expect(r.stderr).not.toContain(COSIGN_PASS);
  });

  it('0600 and 0400: silent', async () => {
    await chmod(join(dir, 'cosign.pass'), 0o400);
    const r = await push(join(dir, 'cosign.key'), join(dir, 'cosign.pass'), 'tight');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Writing manifest list to [^\n]+\n$/);
  });

  it('with --log-format json the warning is a JSON line too', async () => {
    await chmod(join(dir, 'gpg.sec.asc'), 0o604);
    const r = await runPlait(['plan', ...S(), '--authfile', join(dir, 'auth.json'), '--src-cert-dir', lab.certDir, '--dest-plain-http', '--log-format', 'json', '-o', 'json', join(dir, 'authfile.yaml')],
      { env: { ...env, SECRETS_COSIGN_PASS: COSIGN_PASS }, cwd: dir });
    await chmod(join(dir, 'gpg.sec.asc'), 0o600);
    expect(r.code, r.stderr).toBe(0);
    const docs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; message?: string });
    expect(docs.filter((d) => d.event === 'warning').map((d) => d.message)).toEqual([
      `${join(dir, 'gpg.sec.asc')} has mode 0604: others can access this secret; make it private with: chmod 600 ${join(dir, 'gpg.sec.asc')}`,
    ]);
  });

  it('a key file asking for scrypt N=2^30 is refused in one line before any derivation, and nothing is pushed', async () => {
    const pem = await readFile(join(dir, 'cosign.key'), 'utf8');
    const b64 = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('');
    const body = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as { kdf: { params: Record<string, number> } };
    body.kdf.params = { N: 2 ** 30, r: 8, p: 1 };
    const hostile = join(dir, 'hostile.key');
    await writeFile(hostile, `-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n${Buffer.from(JSON.stringify(body)).toString('base64')}\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n`, { mode: 0o600 });
    const mark = await logMark(lab.tls.accessLog);
    const r = await push(hostile, join(dir, 'cosign.pass'), 'hostile');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`plait: ${hostile}: unsupported scrypt parameters N=1073741824 r=8 p=1 (N ∈ {32768, 65536, 131072}, r=8, p=1)\n`);
    expect((await entriesSince(lab.tls.accessLog, mark)).filter((e) => e.path.includes('/secrets/perm/'))).toEqual([]);
  });
});
