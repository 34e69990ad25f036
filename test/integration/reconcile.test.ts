import { describe, it, expect, inject, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, closeAllClients } from '../../src/transports/index.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { generateLayout } from '../lab/fixtures/generate.js';
import { LayoutImage } from '../../src/transports/layout/layout.js';
import { run } from '../lab/proc.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { runPlait } from '../helpers/cli.js';

// The reconciler end to end against the real registry: first apply pushes, a no-op costs one HEAD per tag and
// nothing else, drift is seen and repaired, prune, rollback, and bad specs change nothing.

const lab = inject('lab');
const peers = inject('peers');
const R = lab.plain.host;
const plain = { plainHttp: true };
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const raw = async (ref: string) => sha(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));

afterAll(() => closeAllClients());

async function setup(repo: string) {
  // Private copies of the sources, so that moving their tags disturbs no other test.
  const [amd64, arm64] = [peers.singles[0]!, peers.singles[1]!];
  await copyImage(openImage(`docker://${amd64.ref}`, plain), openImage(`docker://${R}/${repo}/src:amd64`, plain));
  await copyImage(openImage(`docker://${arm64.ref}`, plain), openImage(`docker://${R}/${repo}/src:arm64`, plain));
  await copyImage(openImage(`docker://${peers.skopeoIndex.ref}`, plain), openImage(`docker://${R}/${repo}/src:multi`, plain));
  const dir = await mkdtemp(join(tmpdir(), 'plait-rec-'));
  const env = { PLAIT_STORE: join(dir, 'store') };
  return { dir, env };
}

function specText(repo: string, opts: { sources?: string[]; prune?: boolean } = {}) {
  const sources = opts.sources ?? [
    `    - image: ${R}/${repo}/src:amd64`,
    `    - image: ${R}/${repo}/src:arm64\n      annotations: {com.example.build: "812"}`,
    `    - image: ${R}/${repo}/src:multi\n      platforms: [linux/arm/v7, linux/s390x]`,
  ];
  return `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${repo}
spec:
  destination:
    image: ${R}/${repo}/out
    tags: ["1.0", latest]
  sources:
${sources.join('\n')}
  annotations: {org.opencontainers.image.source: "https://example.com/${repo}"}
${opts.prune === false ? '  prune: false\n' : ''}`;
}

async function plait(env: NodeJS.ProcessEnv, ...args: string[]) {
  return runPlait(args, { env });
}

describe('apply and plan', () => {
  it('pushes once, then a no-op costs one HEAD per source tag and per destination tag', async () => {
    const repo = 'rec-a';
    const { dir, env } = await setup(repo);
    const file = join(dir, 'spec.yaml');
    await writeFile(file, specText(repo));
    const first = await plait(env, 'apply', '--plain-http', '-o', 'json', file);
    expect(first.stderr).toContain('pushed');
    expect(first.code).toBe(0);
    const digest = (JSON.parse(first.stdout.toString()) as Array<{ digest: string }>)[0]!.digest;
    expect(await raw(`${R}/${repo}/out:1.0`)).toBe(digest);
    expect(await raw(`${R}/${repo}/out:latest`)).toBe(digest);

    const mark = await logMark(lab.plain.accessLog);
    const summary = join(dir, 'step-summary.md');
    const second = await plait({ ...env, GITHUB_STEP_SUMMARY: summary }, 'apply', '--plain-http', file);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('in-sync');
    // In GitHub Actions the outcome is appended to the job summary as a markdown table.
    expect(await readFile(summary, 'utf8')).toContain(`| ${repo} | in-sync | \`${digest}\` |  |`);
    const entries = await entriesSince(lab.plain.accessLog, mark);
    expect(entries.map((e) => e.method)).toEqual(['HEAD', 'HEAD', 'HEAD', 'HEAD', 'HEAD']);
    expect(entries.filter((e) => e.path.includes(`/${repo}/src/manifests/`))).toHaveLength(3);
    expect(entries.filter((e) => e.path.includes(`/${repo}/out/manifests/`))).toHaveLength(2);

    expect((await plait(env, 'plan', '--plain-http', '--exit-code', file)).code).toBe(0);

    // A new amd64 build under the same source tag.
    const layout = await generateLayout({ dir: join(dir, 'rebuild'), tag: 'rebuild', seed: 'new-amd64-build', images: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: 1, layerSize: 2048, data: 'random' }] });
    const newBuild = layout.images[0]!.manifest.digest;
    await copyImage(new LayoutImage(layout.dir, layout.images[0]!.ref), openImage(`docker://${R}/${repo}/src:amd64`, plain));
    const drift = await plait(env, 'plan', '--plain-http', '--exit-code', '-o', 'json', file);
    expect(drift.code).toBe(2);
    const actions = (JSON.parse(drift.stdout.toString()) as Array<{ actions: Array<{ kind: string; target: string; detail: string }> }>)[0]!.actions;
    expect(actions).toContainEqual({ kind: 'replace-instance', target: 'linux/amd64', detail: `${peers.singles[0]!.digest} → ${newBuild}` });
    expect(actions.map((a) => a.kind)).toContain('push-list');

    expect((await plait(env, 'apply', '--plain-http', file)).code).toBe(0);
    const pushed = JSON.parse(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/${repo}/out:latest`])) as { manifests: Array<{ digest: string }> };
    const digests = pushed.manifests.map((m) => m.digest);
    expect(digests).toContain(newBuild);
    expect(digests).not.toContain(peers.singles[0]!.digest);
    expect(digests).toHaveLength(4);
    expect((await plait(env, 'plan', '--plain-http', '--exit-code', file)).code).toBe(0);
  });

  it('prune removes an instance no source yields; prune: false keeps it', async () => {
    const repo = 'rec-b';
    const { dir, env } = await setup(repo);
    const file = join(dir, 'spec.yaml');
    await writeFile(file, specText(repo));
    expect((await plait(env, 'apply', '--plain-http', file)).code).toBe(0);
    const without = [`    - image: ${R}/${repo}/src:amd64`, `    - image: ${R}/${repo}/src:multi\n      platforms: [linux/arm/v7, linux/s390x]`];
    await writeFile(file, specText(repo, { sources: without, prune: false }));
    expect((await plait(env, 'apply', '--plain-http', file)).code).toBe(0);
    const kept = JSON.parse(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/${repo}/out:1.0`])) as { manifests: Array<{ digest: string }> };
    expect(kept.manifests.map((m) => m.digest)).toContain(peers.singles[1]!.digest);
    await writeFile(file, specText(repo, { sources: without }));
    const pruned = await plait(env, 'plan', '--plain-http', '-o', 'json', file);
    expect(JSON.stringify(JSON.parse(pruned.stdout.toString()))).toContain('"kind":"remove-instance"');
    expect((await plait(env, 'apply', '--plain-http', file)).code).toBe(0);
    const after = JSON.parse(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/${repo}/out:1.0`])) as { manifests: Array<{ digest: string }> };
    expect(after.manifests.map((m) => m.digest)).not.toContain(peers.singles[1]!.digest);
    expect(after.manifests).toHaveLength(3);
  });

  it('rollback re-points the tags at the previous push; plan then reports drift', async () => {
    const repo = 'rec-c';
    const { dir, env } = await setup(repo);
    const file = join(dir, 'spec.yaml');
    await writeFile(file, specText(repo));
    expect((await plait(env, 'apply', '--plain-http', file)).code).toBe(0);
    const firstDigest = await raw(`${R}/${repo}/out:1.0`);
    await writeFile(file, specText(repo, { sources: [`    - image: ${R}/${repo}/src:amd64`] }));
    expect((await plait(env, 'apply', '--plain-http', file)).code).toBe(0);
    const secondDigest = await raw(`${R}/${repo}/out:1.0`);
    expect(secondDigest).not.toBe(firstDigest);
    const hist = await plait(env, 'history', '-o', 'json', repo);
    expect((JSON.parse(hist.stdout.toString()) as Array<{ digest: string }>).map((h) => h.digest)).toEqual([secondDigest, firstDigest]);

    const rb = await plait(env, 'rollback', '--plain-http', repo);
    expect(rb.stderr).toBe('');
    expect(rb.code).toBe(0);
    expect(await raw(`${R}/${repo}/out:1.0`)).toBe(firstDigest);
    expect(await raw(`${R}/${repo}/out:latest`)).toBe(firstDigest);
    const plan = await plait(env, 'plan', '--plain-http', '--exit-code', '-o', 'json', file);
    expect(plan.code).toBe(2);
    expect(plan.stdout.toString()).toContain('move-tag');
    // apply moves the tags back without pushing anything else.
    expect((await plait(env, 'apply', '--plain-http', file)).stderr).toContain('tags-moved');
    expect(await raw(`${R}/${repo}/out:1.0`)).toBe(secondDigest);
  });
});

describe('bad specs change nothing', () => {
  it('every invalid fixture: its one expected line, exit 1, no store record and no registry request', async () => {
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'specs', 'invalid');
    const names = (await readdir(fixtures)).filter((f) => f.endsWith('.yaml')).sort();
    expect(names.length).toBeGreaterThanOrEqual(30);
    const store = await mkdtemp(join(tmpdir(), 'plait-bad-'));
    const mark = await logMark(lab.plain.accessLog);
    for (const n of names) {
      const expected = (await readFile(join(fixtures, n.replace(/\.yaml$/, '.expected')), 'utf8')).trim();
      const r = await runPlait(['apply', '--plain-http', n], { env: { PLAIT_STORE: store }, cwd: fixtures });
      expect(r.code, n).toBe(1);
      expect(r.stdout.toString(), n).toBe('');
      expect(r.stderr.trim(), n).toBe(expected.replaceAll('FILE', n));
    }
    expect(await readdir(store)).toEqual([]);
    expect(await entriesSince(lab.plain.accessLog, mark)).toEqual([]);
  });
});
