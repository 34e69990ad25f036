import { describe, it, expect, inject, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as openpgp from 'openpgp';
import { openImage, closeAllClients } from '../../src/transports/index.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { run } from '../lab/proc.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import type { AccessEntry } from '../lab/access-log.js';
import { runPlait } from '../helpers/cli.js';
import { generateLayout } from '../lab/fixtures/generate.js';

// What a new user hit (issue 10), the wrong results: a typo'd platform emptying a list, tags added to a signed list
// without signatures, a fresh store re-pushing what the registry already serves, `-o json` platforms, the store
// commands' surprises, and the rough edges of plan/inspect/validate output. Everything against the lab registry.

const lab = inject('lab');
const peers = inject('peers');
const R = lab.plain.host;
const T = '--tls-verify=false';
const plain = { plainHttp: true };
const PASS = 'new user pass';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const raw = (ref: string) => run('skopeo', ['inspect', '--raw', T, `docker://${ref}`]);

afterAll(() => closeAllClients());

const writes = (entries: AccessEntry[]) => entries.filter((e) => e.method === 'PUT' || e.method === 'POST' || e.method === 'PATCH' || e.method === 'DELETE');

async function sources(repo: string): Promise<void> {
  await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, plain), openImage(`docker://${R}/${repo}/src:amd64`, plain));
  await copyImage(openImage(`docker://${peers.singles[1]!.ref}`, plain), openImage(`docker://${R}/${repo}/src:arm64`, plain));
}

function spec(repo: string, extra = '', tags = '["1.0", latest]', platforms = ''): string {
  return `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${repo}
spec:
  destination:
    image: ${R}/${repo}/out
    tags: ${tags}
  sources:
    - image: ${R}/${repo}/src:amd64
    - image: ${R}/${repo}/src:arm64
${platforms}${extra}`;
}

async function tmp(prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), `plait-nu-${prefix}-`));
  return { dir, file: join(dir, 'spec.yaml'), store: (n: string) => ({ PLAIT_STORE: join(dir, `store-${n}`) }) };
}

interface Doc { name: string; status: string; digest?: string; actions: Array<{ kind: string; target: string; detail: string }>; instances: Array<{ platform: string }> }
const docs = (stdout: Buffer) => JSON.parse(stdout.toString()) as Doc[];

describe('point 1: a platform that matches nothing', () => {
  it('validate refuses unknown os/architecture/variant values with file:line:col and a suggestion', async () => {
    const t = await tmp('typo');
    await writeFile(t.file, spec('nu-typo', '', '[v1]', '  platforms: [linux/amd46, aarch64-linux/x, linux/arm64/v8, linux/x86_64]\n')
      .replace(`src:arm64\n`, `src:arm64\n      platform: {os: linux, architecture: arm, variant: v9}\n`));
    const r = await runPlait(['validate', t.file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(`${t.file}:13:15: spec.platforms[0]: unknown architecture "amd46" (did you mean amd64?)`);
    expect(lines.some((l) => l.includes('spec.platforms[1]: unknown operating system "aarch64-linux"'))).toBe(true);
    expect(lines.some((l) => /spec\.sources\[1\]\.platform\.variant: unknown variant for arm "v9".*known: v5, v6, v7, v8/.test(l))).toBe(true);
    // Aliases containers/image normalises are fine: only three problems.
    expect(lines).toHaveLength(3);
  });

  it('a desired list with zero instances is never pushed: one line, exit 1, the destination untouched', async () => {
    const repo = 'nu-zero';
    await sources(repo);
    const t = await tmp('zero');
    await writeFile(t.file, spec(repo));
    const first = await runPlait(['apply', '--plain-http', '-o', 'json', t.file], { env: t.store('a') });
    expect(first.code).toBe(0);
    const good = docs(first.stdout)[0]!;
    // point 5: platforms without a variant print without a trailing slash.
    expect(good.instances.map((i) => i.platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);

    await writeFile(t.file, spec(repo, '', '["1.0", latest]', '  platforms: [linux/riscv64]\n'));
    const mark = await logMark(lab.plain.accessLog);
    const r = await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') });
    expect(r.code).toBe(1);
    const failed = r.stderr.split('\n').filter((l) => l.includes('no instances'));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/the desired list has no instances: spec\.platforms \[linux\/riscv64\] matches none of what the sources yield \(linux\/amd64, linux\/arm64\/v8\); nothing was pushed/);
    expect(writes(await entriesSince(lab.plain.accessLog, mark))).toEqual([]);
    expect(sha(await raw(`${R}/${repo}/out:latest`))).toBe(good.digest);
  });
});

describe('point 3: a fresh store against a destination that already serves the list', () => {
  it('plain list: plan answers 0 and apply writes nothing to the registry; the store then knows it', async () => {
    const repo = 'nu-fresh';
    await sources(repo);
    const t = await tmp('fresh');
    await writeFile(t.file, spec(repo));
    expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') })).code).toBe(0);

    const plan = await runPlait(['plan', '--plain-http', '--exit-code', '-o', 'json', t.file], { env: t.store('b') });
    expect(plan.code).toBe(0);
    expect(docs(plan.stdout)[0]!.actions).toEqual([]);

    const mark = await logMark(lab.plain.accessLog);
    const apply = await runPlait(['apply', '--plain-http', '-o', 'json', t.file], { env: t.store('c') });
    expect(apply.code).toBe(0);
    expect(docs(apply.stdout)[0]!.status).toBe('in-sync');
    expect(writes(await entriesSince(lab.plain.accessLog, mark))).toEqual([]);
    // Recorded: the next no-op of that store is HEADs only.
    const mark2 = await logMark(lab.plain.accessLog);
    expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('c') })).stderr).toContain('in-sync');
    expect((await entriesSince(lab.plain.accessLog, mark2)).every((e) => e.method === 'HEAD')).toBe(true);
  });

  it('zstd variants: the destination clones are verified and adopted, and seed the variant cache', async () => {
    const repo = 'nu-variants';
    await sources(repo);
    const t = await tmp('variants');
    const compression = '  compression: {variants: [zstd]}\n';
    await writeFile(t.file, spec(repo, compression));
    expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') })).code).toBe(0);

    const plan = await runPlait(['plan', '--plain-http', '--exit-code', t.file], { env: t.store('b') });
    expect(plan.code).toBe(0);
    const mark = await logMark(lab.plain.accessLog);
    const apply = await runPlait(['apply', '--plain-http', '-o', 'json', t.file], { env: t.store('b') });
    expect(docs(apply.stdout)[0]!.status).toBe('in-sync');
    expect(writes(await entriesSince(lab.plain.accessLog, mark))).toEqual([]);

    // point 15: with the clones known, a change that needs a push plans no add-variant…
    await writeFile(t.file, spec(repo, `${compression}  annotations: {org.example.changed: "yes"}\n`));
    const changed = await runPlait(['plan', '--plain-http', '-o', 'json', t.file], { env: t.store('b') });
    const kinds = docs(changed.stdout)[0]!.actions.map((a) => a.kind);
    expect(kinds).toContain('push-list');
    expect(kinds).not.toContain('add-variant');
    // …and the push reuses the adopted clones: no layer is uploaded.
    const mark2 = await logMark(lab.plain.accessLog);
    expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('b') })).code).toBe(0);
    const uploads = (await entriesSince(lab.plain.accessLog, mark2)).filter((e) => e.path.includes('/blobs/uploads/'));
    expect(uploads).toEqual([]);
    // A store that never saw the clones plans them for the platforms that lack them.
    await writeFile(t.file, spec(repo, `${compression}  annotations: {org.example.changed: "again"}\n`));
    const fresh = await runPlait(['plan', '--plain-http', '-o', 'json', t.file], { env: t.store('z') });
    expect(docs(fresh.stdout)[0]!.actions).toContainEqual({ kind: 'add-variant', target: 'zstd', detail: 'for linux/amd64, linux/arm64/v8' });
  });
});

describe('point 3 with compression.force: the rewritten instances are verified against their sources', () => {
  for (const variants of ['[zstd]', '[gzip]']) {
    it(`variants ${variants}: plan answers 0 and apply writes nothing from a fresh store; a store that adopted it knows it`, async () => {
      const repo = `nu-force-${variants.length}`;
      await sources(repo);
      const t = await tmp('force');
      await writeFile(t.file, spec(repo, `  compression: {force: true, variants: ${variants}}\n`));
      expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') })).code).toBe(0);

      const plan = await runPlait(['plan', '--plain-http', '--exit-code', '-o', 'json', t.file], { env: t.store('b') });
      expect(docs(plan.stdout)[0]!.actions).toEqual([]);
      expect(plan.code).toBe(0);
      const mark = await logMark(lab.plain.accessLog);
      const apply = await runPlait(['apply', '--plain-http', '-o', 'json', t.file], { env: t.store('c') });
      expect(docs(apply.stdout)[0]!.status).toBe('in-sync');
      expect(writes(await entriesSince(lab.plain.accessLog, mark))).toEqual([]);
      // The adopted rewrites seeded the variant cache: a change that needs a push uploads no layer.
      await writeFile(t.file, spec(repo, `  compression: {force: true, variants: ${variants}}\n  annotations: {org.example.changed: "yes"}\n`));
      const mark2 = await logMark(lab.plain.accessLog);
      expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('c') })).code).toBe(0);
      expect((await entriesSince(lab.plain.accessLog, mark2)).filter((e) => e.path.includes('/blobs/uploads/'))).toEqual([]);
    });
  }

  it('a destination list whose instances are not rewritten as the spec forces is not adopted', async () => {
    const repo = 'nu-force-not';
    await sources(repo);
    const t = await tmp('force-not');
    await writeFile(t.file, spec(repo));
    expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') })).code).toBe(0);
    await writeFile(t.file, spec(repo, '  compression: {force: true, variants: [zstd]}\n'));
    const plan = await runPlait(['plan', '--plain-http', '--exit-code', t.file], { env: t.store('b') });
    expect(plan.code).toBe(2);
  });
});

describe('point 2 (and 3 for signed lists): every tag has its signatures', () => {
  it('a tag added to a signed list is signed for sigstore and GPG; a fresh store plans only the missing signing', async () => {
    const repo = 'nu-signed';
    await sources(repo);
    const t = await tmp('signed');
    const dir = t.dir;
    await writeFile(join(dir, 'pass'), `${PASS}\n`);
    expect((await runPlait(['key', 'generate', '--prefix', join(dir, 'cosign')], { env: { PLAIT_PASSPHRASE: PASS } })).code).toBe(0);
    const gen = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Plait Test', email: 'test@example.invalid' }], passphrase: PASS, format: 'armored' });
    await writeFile(join(dir, 'gpg.sec.asc'), gen.privateKey);
    await writeFile(join(dir, 'gpg.pub.asc'), gen.publicKey);
    const lookaside = join(dir, 'lookaside');
    await mkdir(lookaside);
    const regd = join(dir, 'registries.d');
    await mkdir(regd);
    await writeFile(join(regd, 'lookaside.yaml'), `docker:\n  ${R}/${repo}:\n    lookaside: ${pathToFileURL(lookaside).href}\n`);
    const signatures = `  signatures:
    sigstore: [{privateKey: {file: cosign.key}, passphrase: {file: pass}}]
    gpg: [{key: {file: gpg.sec.asc}, passphrase: {file: pass}, lookaside: lookaside}]
`;
    await writeFile(t.file, spec(repo, signatures, '[v1]'));
    expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') })).code).toBe(0);

    await writeFile(t.file, spec(repo, signatures, '[v1, v2]'));
    const moved = await runPlait(['apply', '--plain-http', '-o', 'json', t.file], { env: t.store('a') });
    expect(moved.code).toBe(0);
    expect(docs(moved.stdout)[0]!.status).toBe('tags-moved');

    // GPG: skopeo's policy with matchRepoDigestOrExact accepts the new tag.
    const policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({
      default: [{ type: 'reject' }],
      transports: {
        docker: { [`${R}/${repo}`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(dir, 'gpg.pub.asc'), signedIdentity: { type: 'matchRepoDigestOrExact' } }] },
        oci: { '': [{ type: 'insecureAcceptAnything' }] },
      },
    }));
    await run('skopeo', ['--policy', policy, '--registries.d', regd, 'copy', '--remove-signatures', '--src-tls-verify=false', `docker://${R}/${repo}/out:v2`, `oci:${join(dir, 'copied')}:x`]);

    // sigstore: the list's .sig carries a signature whose docker-reference is the new tag, and openssl verifies it.
    const listBytes = await raw(`${R}/${repo}/out:v2`);
    const listDigest = sha(listBytes);
    const verifySigstore = async (tag: string) => {
      const sig = JSON.parse(await raw(`${R}/${repo}/out:${listDigest.replace(':', '-')}.sig`)) as { layers: Array<{ digest: string; annotations: Record<string, string> }> };
      for (const layer of sig.layers) {
        const blob = await run('curl', ['-sf', `http://${R}/v2/${repo}/out/blobs/${layer.digest}`]);
        const payload = JSON.parse(blob) as { critical: { identity: { 'docker-reference': string } } };
        if (payload.critical.identity['docker-reference'] !== `${R}/${repo}/out:${tag}`) continue;
        await writeFile(join(dir, 'payload'), blob);
        await writeFile(join(dir, 'sig.der'), Buffer.from(layer.annotations['dev.cosignproject.cosign/signature']!, 'base64'));
        return run('openssl', ['dgst', '-sha256', '-verify', join(dir, 'cosign.pub'), '-signature', join(dir, 'sig.der'), join(dir, 'payload')]);
      }
      return `no signature for ${tag}`;
    };
    expect(await verifySigstore('v2')).toContain('Verified OK');

    // A fresh store: in sync, signatures included.
    expect((await runPlait(['plan', '--plain-http', '--exit-code', t.file], { env: t.store('b') })).code).toBe(0);

    // A tag that serves the list but was never signed (put there by hand): only its signing is planned and done.
    await writeFile(join(dir, 'list.json'), listBytes);
    const mediaType = (JSON.parse(listBytes) as { mediaType: string }).mediaType;
    await run('curl', ['-sf', '-X', 'PUT', '-H', `Content-Type: ${mediaType}`, '--data-binary', `@${join(dir, 'list.json')}`, `http://${R}/v2/${repo}/out/manifests/v3`]);
    await writeFile(t.file, spec(repo, signatures, '[v1, v2, v3]'));
    const plan = await runPlait(['plan', '--plain-http', '--exit-code', '-o', 'json', t.file], { env: t.store('c') });
    expect(plan.code).toBe(2);
    expect(docs(plan.stdout)[0]!.actions).toEqual([{ kind: 'sign', target: 'v3', detail: `sigstore, gpg for every manifest of ${listDigest}` }]);
    const mark = await logMark(lab.plain.accessLog);
    const signed = await runPlait(['apply', '--plain-http', '-o', 'json', t.file], { env: t.store('c') });
    expect(docs(signed.stdout)[0]!.status).toBe('signed');
    const puts = writes(await entriesSince(lab.plain.accessLog, mark)).filter((e) => e.path.includes('/manifests/'));
    expect(puts.length).toBeGreaterThan(0);
    expect(puts.every((e) => e.path.endsWith('.sig'))).toBe(true);
    expect(await verifySigstore('v3')).toContain('Verified OK');
    await run('skopeo', ['--policy', policy, '--registries.d', regd, 'copy', '--remove-signatures', '--src-tls-verify=false', `docker://${R}/${repo}/out:v3`, `oci:${join(dir, 'copied3')}:x`]);
    expect((await runPlait(['plan', '--plain-http', '--exit-code', t.file], { env: t.store('c') })).code).toBe(0);
  });
});

describe('point 13: the store commands', () => {
  it('manifest rm refuses a list with push history unless --force', async () => {
    const repo = 'nu-rm';
    await sources(repo);
    const t = await tmp('rm');
    await writeFile(t.file, spec(repo));
    expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') })).code).toBe(0);
    const refused = await runPlait(['manifest', 'rm', repo], { env: t.store('a') });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/has push history \(1 push, last sha256:[0-9a-f]{64} to .*\); removing it loses what rollback needs — use --force/);
    expect((await runPlait(['manifest', 'exists', repo], { env: t.store('a') })).code).toBe(0);
    expect((await runPlait(['manifest', 'rm', '--force', repo], { env: t.store('a') })).code).toBe(0);
    expect((await runPlait(['manifest', 'exists', repo], { env: t.store('a') })).code).toBe(1);
  });

  it('manifest inspect of a missing local list says so instead of asking a registry', async () => {
    const t = await tmp('inspect');
    const r = await runPlait(['manifest', 'inspect', 'nosuchlist'], { env: t.store('a') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('plait: manifest inspect: no local list named "nosuchlist" (to read a registry\'s, name the registry: docker://HOST/REPO:TAG)\n');
    // A name with its registry still reads the registry.
    const ok = await runPlait(['manifest', 'inspect', T, `${peers.skopeoIndex.ref}`], { env: t.store('a') });
    expect(ok.code).toBe(0);
  });

  it('a failed signing apply leaves the store as it was', async () => {
    const repo = 'nu-badsign';
    await sources(repo);
    const t = await tmp('badsign');
    expect((await runPlait(['key', 'generate', '--prefix', join(t.dir, 'cosign')], { env: { PLAIT_PASSPHRASE: PASS } })).code).toBe(0);
    await writeFile(join(t.dir, 'wrong'), 'not it\n');
    await writeFile(t.file, spec(repo, '  signatures:\n    sigstore: [{privateKey: {file: cosign.key}, passphrase: {file: wrong}}]\n'));
    const r = await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/passphrase/);
    expect((await runPlait(['manifest', 'exists', repo], { env: t.store('a') })).code).toBe(1);
  });
});

describe('point 13: a failed push', () => {
  it('puts the stored list and its history back as they were', async () => {
    const repo = 'nu-failed-push';
    await sources(repo);
    const t = await tmp('failedpush');
    await writeFile(t.file, spec(repo));
    expect((await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') })).code).toBe(0);
    const before = (await runPlait(['manifest', 'inspect', '--raw', repo], { env: t.store('a') })).stdout;
    // A layout source whose layer is gone: planning reads its manifest and config, the push fails on the layer.
    const layout = await generateLayout({ dir: join(t.dir, 'broken'), tag: 'v1', seed: 'nu-broken', images: [{ platform: { os: 'linux', architecture: 's390x' }, layers: 1, layerSize: 2048, data: 'random' }] });
    await rm(join(layout.dir, 'blobs', 'sha256', layout.images[0]!.layers[0]!.digest.slice('sha256:'.length)));
    await writeFile(t.file, spec(repo, `    - image: oci:${layout.dir}:${layout.images[0]!.ref!}\n`));
    const r = await runPlait(['apply', '--plain-http', t.file], { env: t.store('a') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nu-failed-push: failed: .*blob/i);
    const after = (await runPlait(['manifest', 'inspect', '--raw', repo], { env: t.store('a') })).stdout;
    expect(after.equals(before)).toBe(true);
    const history = JSON.parse((await runPlait(['history', '-o', 'json', repo], { env: t.store('a') })).stdout.toString()) as unknown[];
    expect(history).toHaveLength(1);
  });
});

describe('point 15: output rough edges', () => {
  it('inspect --override-arch shows the chosen instance without --config; inspect and validate take -o json', async () => {
    const r = await runPlait(['inspect', T, '--override-arch', 'arm64', '--override-os', 'linux', `docker://${peers.skopeoIndex.ref}`]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout.toString()) as { Architecture?: string; Manifests?: unknown };
    expect(doc.Manifests).toBeUndefined();
    expect(doc.Architecture).toBe('arm64');
    const j = await runPlait(['inspect', T, '-o', 'json', `docker://${peers.skopeoIndex.ref}`]);
    expect(j.code).toBe(0);
    expect((JSON.parse(j.stdout.toString()) as { Manifests: unknown[] }).Manifests.length).toBeGreaterThan(1);

    const t = await tmp('json');
    await writeFile(t.file, spec('nu-json'));
    const v = await runPlait(['validate', '-o', 'json', t.file]);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout.toString())).toEqual({ valid: 1, specs: [{ name: 'nu-json', file: t.file, index: 0 }] });
  });

  it('with -o json an error is a JSON object on stdout and one line on stderr', async () => {
    const t = await tmp('jsonerr');
    await writeFile(t.file, spec('nu-jsonerr', '', '[v1]', '  platforms: [linux/amd46]\n'));
    for (const cmd of ['apply', 'plan', 'validate']) {
      const r = await runPlait([cmd, '-o', 'json', t.file], { env: t.store('a') });
      expect(r.code).toBe(1);
      const doc = JSON.parse(r.stdout.toString()) as { error: { code: string; message: string } };
      expect(doc.error.code).toBe('E_SPEC_INVALID');
      expect(doc.error.message).toContain('spec.platforms[0]: unknown architecture "amd46"');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const bad = await runPlait(['plan', '-o', 'json', '--concurrency', 'x', t.file], { env: t.store('a') });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout.toString())).toEqual({ error: { code: 'E_INVALID', message: '--concurrency must be a positive integer, not "x"' } });
    expect(bad.stderr).toBe('plait: --concurrency must be a positive integer, not "x"\n');
    const missing = await runPlait(['inspect', '-o', 'json', '--plain-http', `docker://${R}/nu-jsonerr/none:v1`]);
    expect(missing.code).toBe(1);
    expect((JSON.parse(missing.stdout.toString()) as { error: { code: string } }).error.code).toMatch(/^E_/);
  });
});
