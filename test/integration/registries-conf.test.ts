import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entriesSince, logMark } from '../lab/access-log.js';
import type { AccessEntry } from '../lab/access-log.js';
import { freePort, run } from '../lab/proc.js';
import { requireGoPart, startRegistry } from '../lab/registry.js';
import type { RunningRegistry } from '../lab/registry.js';
import { runPlait } from '../helpers/cli.js';

// registries.conf, read by every command the way podman reads it, against the real lab registry: each key with no
// registry flag given. The lab's plain registry speaks only HTTP, so without `insecure` plait (https only unless told)
// cannot reach it — which is what makes each test able to fail.

const lab = inject('lab');
const peers = inject('peers');
const R = lab.plain.host;
const single = peers.singles[0]!;
const tagOf = (ref: string) => ref.slice(ref.lastIndexOf(':') + 1);

let dir = '';
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-regconf-'));
});

/** A fresh HOME and a main registries.conf holding `conf`; drop-ins for ~/.config/containers/registries.conf.d. */
async function envWith(conf: string, dropIns: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const home = join(dir, `home-${n++}`);
  const d = join(home, '.config', 'containers', 'registries.conf.d');
  await mkdir(d, { recursive: true });
  for (const [name, text] of Object.entries(dropIns)) await writeFile(join(d, name), text);
  const file = join(home, 'registries.conf');
  await writeFile(file, conf);
  return { HOME: home, CONTAINERS_REGISTRIES_CONF: file, PLAIT_STORE: join(home, 'store'), XDG_DATA_HOME: join(home, 'data') };
}

const inspect = (env: NodeJS.ProcessEnv, ref: string) => runPlait(['inspect', '--raw', `docker://${ref}`], { env });

async function spec(name: string, source: string, dest: string): Promise<string> {
  const f = join(dir, `${name}.yaml`);
  await writeFile(f, ['apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', `metadata: { name: ${name} }`, 'spec:',
    `  destination: { image: ${dest}, tags: [v1] }`, '  sources:', `    - image: ${source}`, ''].join('\n'));
  return f;
}

describe('registries.conf', () => {
  it('without it the plain-HTTP lab registry is not reached (https only)', async () => {
    const r = await inspect(await envWith(''), single.ref);
    expect(r.code).toBe(1);
  });

  it('insecure = true: plain HTTP allowed for that registry with no flag', async () => {
    const env = await envWith(`[[registry]]\nlocation = "${R}"\ninsecure = true\n`);
    const r = await inspect(env, single.ref);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString()) as unknown).toHaveProperty('layers');
  });

  it('blocked = true: refused in one line before any request', async () => {
    const env = await envWith(`[[registry]]\nlocation = "${R}"\ninsecure = true\nblocked = true\n`);
    const mark = await logMark(lab.plain.accessLog);
    const r = await inspect(env, single.ref);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`registry ${R.replace(/[.]/g, '\\.')} is blocked in .*registries\\.conf`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const apply = await runPlait(['apply', await spec('blocked', single.ref, `${R}/regconf/blocked`)], { env });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toMatch(/is blocked/);
    expect(await entriesSince(lab.plain.accessLog, mark)).toEqual([]);
  });

  it('prefix + location: the prefix is rewritten to the location', async () => {
    const env = await envWith(`[[registry]]\nprefix = "registry.example.invalid/team"\nlocation = "${R}/lab"\ninsecure = true\n`);
    const r = await inspect(env, `registry.example.invalid/team/app:${tagOf(single.ref)}`);
    expect(r.stderr).toBe('');
    const direct = await inspect(await envWith(`[[registry]]\nlocation = "${R}"\ninsecure = true\n`), single.ref);
    expect(r.stdout.equals(direct.stdout)).toBe(true);
    // a prefix covers whole path components only
    const other = await inspect(env, `registry.example.invalid/teamx/app:${tagOf(single.ref)}`);
    expect(other.code).toBe(1);
  });

  it('a drop-in in ~/.config/containers/registries.conf.d overrides the main file for the same prefix', async () => {
    const env = await envWith(`[[registry]]\nlocation = "${R}"\ninsecure = true\n`, { '50-block.conf': `[[registry]]\nlocation = "${R}"\nblocked = true\n` });
    const r = await inspect(env, single.ref);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/50-block\.conf/);
  });

  it('unqualified-search-registries: a short name resolves on the command line with one registry, is ambiguous with two, and is refused in a spec', async () => {
    const short = `lab/app:${tagOf(single.ref)}`;
    const one = await envWith(`unqualified-search-registries = ["${R}"]\n[[registry]]\nlocation = "${R}"\ninsecure = true\n`);
    const r = await runPlait(['inspect', '--raw', short], { env: one });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const two = await envWith(`unqualified-search-registries = ["${R}", "quay.io"]\n`);
    const amb = await runPlait(['inspect', '--raw', short], { env: two });
    expect(amb.code).toBe(1);
    expect(amb.stderr).toMatch(/short name is ambiguous/);
    const plan = await runPlait(['plan', await spec('short', short, `${R}/regconf/short`)], { env: one });
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/a short name in a spec would be searched for in unqualified-search-registries/);
  });

  it('[aliases]: a short name that is an alias is accepted in a spec and resolves to the alias', async () => {
    const env = await envWith(`unqualified-search-registries = ["quay.io"]\n[aliases]\n"peerapp" = "${R}/lab/app"\n[[registry]]\nlocation = "${R}"\ninsecure = true\n`);
    const r = await runPlait(['apply', await spec('alias', `peerapp:${tagOf(single.ref)}`, `${R}/regconf/alias`)], { env });
    expect(r.stderr).toMatch(/1 pushed/);
    expect(r.code).toBe(0);
    const out = await inspect(env, `${R}/regconf/alias:v1`);
    expect((JSON.parse(out.stdout.toString()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest)).toEqual([single.digest]);
  });

  it('bad files: one line naming the file (TOML errors with line:col; version-1 tables refused)', async () => {
    const bad = await inspect(await envWith('[[registry]\nlocation = 1\n'), single.ref);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/registries\.conf:\d+:\d+: not valid TOML/);
    const v1 = await inspect(await envWith('[registries.insecure]\nregistries = ["x"]\n'), single.ref);
    expect(v1.code).toBe(1);
    expect(v1.stderr).toMatch(/version 1 tables/);
    expect(v1.stderr.trim().split('\n')).toHaveLength(1);
  });
});

// Mirrors, against real registries: the lab's plain registry is the primary location (it holds the fixture); two more
// plain registries are started here — one that has a copy of the fixture, one that is empty — and a free port with
// nothing behind it stands for a dead mirror. Which registry served what is read from each one's access log.
describe('registries.conf mirrors', () => {
  let full: RunningRegistry;
  let empty: RunningRegistry;
  let dead = '';
  const repo = 'lab/app';
  const tag = () => tagOf(single.ref);

  beforeAll(async () => {
    [full, empty] = await Promise.all([
      startRegistry({ name: 'mirror-full', dir: join(dir, 'mirror-full'), auth: { kind: 'none' } }),
      startRegistry({ name: 'mirror-empty', dir: join(dir, 'mirror-empty'), auth: { kind: 'none' } }),
    ]);
    dead = `127.0.0.1:${await freePort()}`;
    await run(requireGoPart('crane'), ['copy', '--insecure', single.ref, `${full.host}/${repo}:${tag()}`]);
  });
  afterAll(async () => {
    await Promise.all([full?.stop(), empty?.stop()]);
  });

  const mirrorConf = (mirrors: string[], extra = '') => [`[[registry]]`, `location = "${R}"`, 'insecure = true', extra,
    ...mirrors.flatMap((m) => ['[[registry.mirror]]', `location = "${m}"`, 'insecure = true']), ''].join('\n');
  const marks = async () => ({ primary: await logMark(lab.plain.accessLog), full: await logMark(full.accessLog), empty: await logMark(empty.accessLog) });
  type Marks = Awaited<ReturnType<typeof marks>>;
  const since = async (m: Marks) => ({
    primary: await entriesSince(lab.plain.accessLog, m.primary), full: await entriesSince(full.accessLog, m.full),
    empty: await entriesSince(empty.accessLog, m.empty),
  });
  const reads = (es: AccessEntry[]) => es.filter((e) => e.path.startsWith(`/v2/${repo}/`));
  const direct = async () => (await inspect(await envWith(`[[registry]]\nlocation = "${R}"\ninsecure = true\n`), single.ref)).stdout;

  it('a mirror that has the image serves the whole pull (manifest and blobs); the push goes to the primary location, never the mirror', async () => {
    const env = { ...await envWith(mirrorConf([full.host])), PLAIT_DEBUG: '1' };
    const m = await marks();
    const r = await runPlait(['apply', await spec('mirror-full', single.ref, `${R}/regconf/mirror-full`)], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`served by mirror ${full.host}/${repo}`);
    const got = await since(m);
    expect(reads(got.full).some((e) => e.method === 'GET' && e.path.includes('/manifests/') && e.status === 200)).toBe(true);
    expect(reads(got.full).some((e) => e.method === 'GET' && e.path.includes('/blobs/') && e.status === 200)).toBe(true);
    // Nothing of the source was read from the primary location; everything written went there.
    expect(reads(got.primary)).toEqual([]);
    expect(got.primary.some((e) => e.method === 'PUT' && e.path.startsWith('/v2/regconf/mirror-full/manifests/'))).toBe(true);
    expect(got.full.filter((e) => e.method !== 'GET' && e.method !== 'HEAD')).toEqual([]);
    expect(got.full.filter((e) => e.path.includes('regconf'))).toEqual([]);
    const out = await inspect(env, `${R}/regconf/mirror-full:v1`);
    expect((JSON.parse(out.stdout.toString()) as { manifests: Array<{ digest: string }> }).manifests.map((x) => x.digest)).toEqual([single.digest]);
  });

  it('a mirror that lacks the image (404) and a dead mirror port are passed over, in order, down to the primary location', async () => {
    const env = { ...await envWith(mirrorConf([dead, empty.host])), PLAIT_DEBUG: '1' };
    const m = await marks();
    const r = await inspect(env, single.ref);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(await direct())).toBe(true);
    expect(r.stderr).toMatch(new RegExp(`mirror ${dead.replace(/[.]/g, '\\.')}/lab/app failed[^\\n]*\\n(.*\\n)*.*mirror ${empty.host.replace(/[.]/g, '\\.')}/lab/app failed`));
    expect(r.stderr).toContain(`served by primary location ${R}/${repo}`);
    const got = await since(m);
    expect(reads(got.empty).map((e) => `${e.method} ${e.status}`)).toEqual(['GET 404']);
    expect(reads(got.primary).some((e) => e.method === 'GET' && e.path.includes('/manifests/') && e.status === 200)).toBe(true);
    // A mirror that has it, after the dead one: it serves, the primary location sees nothing.
    const m2 = await marks();
    const r2 = await inspect(await envWith(mirrorConf([dead, full.host])), single.ref);
    expect(r2.code, r2.stderr).toBe(0);
    const got2 = await since(m2);
    expect(reads(got2.full).length).toBeGreaterThan(0);
    expect(reads(got2.primary)).toEqual([]);
  });

  it('mirror-by-digest-only: a tag reference reads the primary location only, a digest reference the mirror; pull-from-mirror = tag-only is the reverse', async () => {
    const byDigest = await envWith(mirrorConf([full.host], 'mirror-by-digest-only = true'));
    let m = await marks();
    expect((await inspect(byDigest, single.ref)).code).toBe(0);
    let got = await since(m);
    expect(reads(got.full)).toEqual([]);
    expect(reads(got.primary).length).toBeGreaterThan(0);
    m = await marks();
    expect((await inspect(byDigest, `${R}/${repo}@${single.digest}`)).code).toBe(0);
    got = await since(m);
    expect(reads(got.full).length).toBeGreaterThan(0);
    expect(reads(got.primary)).toEqual([]);

    const tagOnly = await envWith([`[[registry]]`, `location = "${R}"`, 'insecure = true', '[[registry.mirror]]', `location = "${full.host}"`, 'insecure = true', 'pull-from-mirror = "tag-only"', ''].join('\n'));
    m = await marks();
    expect((await inspect(tagOnly, `${R}/${repo}@${single.digest}`)).code).toBe(0);
    got = await since(m);
    expect(reads(got.full)).toEqual([]);
    m = await marks();
    expect((await inspect(tagOnly, single.ref)).code).toBe(0);
    got = await since(m);
    expect(reads(got.full).length).toBeGreaterThan(0);
    expect(reads(got.primary)).toEqual([]);
  });

  it('when the primary location fails too, one line: its error, then what each mirror said', async () => {
    const env = await envWith(mirrorConf([empty.host]));
    const r = await inspect(env, `${R}/${repo}:no-such-tag`);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`${R.replace(/[.]/g, '\\.')}: .*MANIFEST_UNKNOWN.*\\(mirrors also failed: ${empty.host.replace(/[.]/g, '\\.')}: `));
  });

  it("a flag credential is never offered to a mirror on another host; the mirror host's own auth-file entry is", async () => {
    const tls = lab.tls;
    const conf = mirrorConf([tls.host]);
    const creds = `${tls.user.name}:${tls.user.password}`;
    let mark = await logMark(tls.accessLog);
    const r = await runPlait(['inspect', '--raw', '--creds', creds, `docker://${single.ref}`], { env: await envWith(conf) });
    expect(r.code, r.stderr).toBe(0);
    // The TLS registry asked for credentials and was given none: every answer it sent was a 401.
    const asked = (await entriesSince(tls.accessLog, mark)).filter((e) => e.path.startsWith('/v2/'));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.map((e) => e.status).every((st) => st === 401)).toBe(true);
    const env = await envWith(conf);
    const authfile = join(env.HOME!, 'auth.json');
    await writeFile(authfile, JSON.stringify({ auths: { [tls.host]: { auth: Buffer.from(creds).toString('base64') } } }));
    mark = await logMark(tls.accessLog);
    const r2 = await runPlait(['inspect', '--raw', '--authfile', authfile, `docker://${single.ref}`], { env });
    expect(r2.code, r2.stderr).toBe(0);
    // With its own entry the mirror was asked as that user: it answered that it has no such manifest.
    expect((await entriesSince(tls.accessLog, mark)).some((e) => e.path.includes('/manifests/') && e.status === 404)).toBe(true);
  });
});
