import { describe, it, expect, inject, beforeAll } from 'vitest';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entriesSince, logMark } from '../lab/access-log.js';
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
