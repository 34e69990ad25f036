import { describe, it, expect, inject } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../lab/proc.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { runPlait } from '../helpers/cli.js';

// `plait manifest …` against the real registry and the real peers: byte fidelity with buildah, interop with skopeo,
// push ordering and mounts read from the registry's access log, concurrency and crash safety of the store.

const lab = inject('lab');
const peers = inject('peers');
const R = lab.plain.host;
const T = '--tls-verify=false';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const rawOf = async (ref: string) => Buffer.from(await run('skopeo', ['inspect', '--raw', T, `docker://${ref}`]), 'utf8');

async function storeEnv() {
  return { PLAIT_STORE: await mkdtemp(join(tmpdir(), 'plait-store-')) };
}

async function plait(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = await runPlait(args, { env });
  if (r.code !== 0) throw new Error(`plait ${args.join(' ')} → ${r.code}: ${r.stderr}`);
  return r.stdout.toString('utf8').trim();
}

const indexChildren = async () => (JSON.parse((await rawOf(peers.skopeoIndex.ref)).toString()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest);

describe('byte fidelity with buildah 1.28', () => {
  it('the same create/add/add --all/annotate/remove/push sequence gives the same pushed lists', async () => {
    const env = await storeEnv();
    const broot = await mkdtemp(join(tmpdir(), 'plait-buildah-'));
    const b = (...a: string[]) => run('buildah', ['--root', join(broot, 's'), '--runroot', join(broot, 'r'), '--storage-driver', 'vfs', ...a]);
    await plait(env, 'manifest', 'create', 'fid');
    await b('manifest', 'create', 'fid');
    for (const tag of ['linux-amd64', 'linux-arm64-v8', 'linux-ppc64le']) {
      await plait(env, 'manifest', 'add', T, 'fid', `docker://${R}/lab/app:${tag}`);
      await b('manifest', 'add', T, 'fid', `docker://${R}/lab/app:${tag}`);
    }
    await plait(env, 'manifest', 'add', T, '--all', 'fid', `docker://${peers.skopeoIndex.ref}`);
    await b('manifest', 'add', T, '--all', 'fid', `docker://${peers.skopeoIndex.ref}`);
    const listed = JSON.parse(await plait(env, 'manifest', 'inspect', 'fid')) as { manifests: Array<{ digest: string }> };
    expect(listed.manifests).toHaveLength(7);
    const annotated = listed.manifests[1]!.digest;
    const removed = listed.manifests[3]!.digest;
    await plait(env, 'manifest', 'annotate', 'fid', annotated, '--annotation', 'com.example.build=812', '--annotation', 'a<b=&');
    await b('manifest', 'annotate', 'fid', annotated, '--annotation', 'com.example.build=812', '--annotation', 'a<b=&');
    await plait(env, 'manifest', 'remove', 'fid', removed);
    await b('manifest', 'remove', 'fid', removed);
    await plait(env, 'manifest', 'annotate', 'fid', '--index', '--annotation', 'org.opencontainers.image.source=https://example.com/x');

    const digestfile = join(env.PLAIT_STORE, 'digest');
    await plait(env, 'manifest', 'push', T, '--digestfile', digestfile, 'fid', `docker://${R}/fidelity/plait:oci`);
    await b('manifest', 'push', '--all', T, 'fid', `docker://${R}/fidelity/buildah:oci`);
    await plait(env, 'manifest', 'push', T, '--format', 'v2s2', 'fid', `docker://${R}/fidelity/plait:v2s2`);
    await b('manifest', 'push', '--all', '--format', 'v2s2', T, 'fid', `docker://${R}/fidelity/buildah:v2s2`);

    const plaitOci = await rawOf(`${R}/fidelity/plait:oci`);
    const buildahOci = await rawOf(`${R}/fidelity/buildah:oci`);
    expect(sha(plaitOci)).toBe((await readFile(digestfile, 'utf8')).trim());
    // The one unavoidable difference: buildah 1.28 has no `manifest annotate --index` ("unknown flag: --index"), so
    // its index lacks the top-level annotations. Without them, the bytes are identical.
    await expect(b('manifest', 'annotate', '--index', 'fid', '--annotation', 'x=y')).rejects.toThrow(/unknown flag: --index/);
    const withoutIndexAnnotations = plaitOci.toString().replace(/,"annotations":\{"org\.opencontainers\.image\.source":"https:\/\/example\.com\/x"\}\}$/, '}');
    expect(withoutIndexAnnotations).not.toBe(plaitOci.toString());
    expect(withoutIndexAnnotations).toBe(buildahOci.toString());
    // Docker lists carry no annotations at all: here the digests are equal, converted children included.
    expect(sha(await rawOf(`${R}/fidelity/plait:v2s2`))).toBe(sha(await rawOf(`${R}/fidelity/buildah:v2s2`)));
    const v2 = JSON.parse((await rawOf(`${R}/fidelity/plait:v2s2`)).toString()) as { manifests: Array<{ digest: string; mediaType: string }> };
    for (const m of v2.manifests) {
      expect(m.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
      expect(sha(await rawOf(`${R}/fidelity/buildah@${m.digest}`))).toBe(m.digest);
    }

  });
});

describe('interop', () => {
  it('skopeo copies every list plait pushed; its digests equal --digestfile', async () => {
    const env = await storeEnv();
    await plait(env, 'manifest', 'create', 'ix');
    for (const s of peers.singles.slice(0, 3)) await plait(env, 'manifest', 'add', T, 'ix', `docker://${s.ref}`);
    for (const [fmt, tag] of [['oci', 'oci'], ['v2s2', 'v2s2']] as const) {
      const df = join(env.PLAIT_STORE, `d-${tag}`);
      await plait(env, 'manifest', 'push', T, '--format', fmt, '--digestfile', df, 'ix', `docker://${R}/interop/list:${tag}`);
      const dir = await mkdtemp(join(tmpdir(), 'plait-skopeo-'));
      await run('skopeo', [...peers.skopeoArgs, 'copy', '--all', '--src-tls-verify=false', `docker://${R}/interop/list:${tag}`, `oci:${dir}:x`]);
      const digest = (await readFile(df, 'utf8')).trim();
      expect(sha(await rawOf(`${R}/interop/list:${tag}`))).toBe(digest);
      if (fmt === 'oci') expect(sha(await run('skopeo', ['inspect', '--raw', `oci:${dir}:x`]))).toBe(digest);
    }
  });

  it('loads and re-pushes the lists buildah and skopeo made, digests preserved', async () => {
    for (const [name, src, format] of [
      ['b-oci', peers.buildahList, 'oci'], ['b-v2s2', peers.buildahListV2s2, 'v2s2'], ['s-oci', peers.skopeoIndex, 'oci'],
    ] as const) {
      const env = await storeEnv();
      await plait(env, 'manifest', 'create', name);
      await plait(env, 'manifest', 'add', T, '--all', name, `docker://${src.ref}`);
      const inspected = JSON.parse(await plait(env, 'manifest', 'inspect', name)) as { manifests: unknown[] };
      const original = JSON.parse((await rawOf(src.ref)).toString()) as { manifests: unknown[] };
      expect(inspected.manifests).toHaveLength(original.manifests.length);
      const df = join(env.PLAIT_STORE, 'digest');
      await plait(env, 'manifest', 'push', T, '--format', format, '--digestfile', df, name, `docker://${R}/repush/${name}:v1`);
      expect((await readFile(df, 'utf8')).trim()).toBe(src.digest);
    }
  });
});

describe('push order and mounts (registry access log)', () => {
  it('children before the list, and a same-registry assembly uploads no layer bytes', async () => {
    const env = await storeEnv();
    await plait(env, 'manifest', 'create', 'asm');
    for (const s of peers.perRepo.slice(0, 4)) await plait(env, 'manifest', 'add', T, 'asm', `docker://${s.ref}`);
    const mark = await logMark(lab.plain.accessLog);
    await plait(env, 'manifest', 'push', T, 'asm', `docker://${R}/assembled/app:v1`);
    const entries = (await entriesSince(lab.plain.accessLog, mark)).filter((e) => e.path.startsWith('/v2/assembled/'));
    const listPut = entries.findIndex((e) => e.method === 'PUT' && e.path === '/v2/assembled/app/manifests/v1');
    expect(listPut).toBeGreaterThan(0);
    const childPuts = entries.map((e, i) => ({ e, i })).filter(({ e }) => e.method === 'PUT' && /\/manifests\/sha256:/.test(e.path));
    expect(childPuts).toHaveLength(4);
    for (const { i } of childPuts) expect(i).toBeLessThan(listPut);
    expect(entries.slice(listPut + 1).filter((e) => e.method === 'PUT')).toEqual([]);
    // Only mounts: no upload sessions carrying bytes.
    expect(entries.filter((e) => e.method === 'PATCH')).toEqual([]);
    expect(entries.filter((e) => e.method === 'PUT' && e.path.includes('/blobs/uploads/'))).toEqual([]);
    const mounts = entries.filter((e) => e.method === 'POST' && e.path.includes('mount='));
    expect(mounts.length).toBe(4 * 3); // config + 2 layers per image
    expect(mounts.every((e) => e.status === 201)).toBe(true);
  });
});

describe('store safety', () => {
  it('8 concurrent processes adding to one list: all 8 instances present', async () => {
    const env = await storeEnv();
    await plait(env, 'manifest', 'create', 'many');
    const children = await indexChildren();
    const refs = [
      ...peers.singles.map((s) => `docker://${s.ref}`),
      ...children.slice(0, 3).map((d) => `docker://${R}/lab/app@${d}`),
    ];
    expect(refs).toHaveLength(8);
    await Promise.all(refs.map((r) => plait(env, 'manifest', 'add', T, 'many', r)));
    const list = JSON.parse(await plait(env, 'manifest', 'inspect', 'many')) as { manifests: Array<{ digest: string }> };
    expect(new Set(list.manifests.map((m) => m.digest)).size).toBe(8);
  });

  it('a process killed between the write and the rename leaves the previous record intact', async () => {
    const env = await storeEnv();
    await plait(env, 'manifest', 'create', 'crash');
    await plait(env, 'manifest', 'add', T, 'crash', `docker://${peers.singles[0]!.ref}`);
    const before = await plait(env, 'manifest', 'inspect', '--raw', 'crash');
    const killed = await runPlait(['manifest', 'add', T, 'crash', `docker://${peers.singles[1]!.ref}`], { env: { ...env, PLAIT_FAILPOINT: 'before-rename' } });
    expect(killed.code).toBeNull();
    expect(await plait(env, 'manifest', 'inspect', '--raw', 'crash')).toBe(before);
    // And the list is still usable.
    await plait(env, 'manifest', 'add', T, 'crash', `docker://${peers.singles[1]!.ref}`);
    expect((JSON.parse(await plait(env, 'manifest', 'inspect', 'crash')) as { manifests: unknown[] }).manifests).toHaveLength(2);
  });

  it('exists, ls, rm and errors in one line', async () => {
    const env = await storeEnv();
    await plait(env, 'manifest', 'create', 'one');
    expect((await runPlait(['manifest', 'exists', 'one'], { env })).code).toBe(0);
    expect((await runPlait(['manifest', 'exists', 'two'], { env })).code).toBe(1);
    expect(await plait(env, 'manifest', 'ls')).toMatch(/^NAME\s+ID\s+DIGEST\s+INSTANCES\none\s/);
    const dup = await runPlait(['manifest', 'create', 'one'], { env });
    expect(dup.code).toBe(1);
    expect(dup.stderr.trim().split('\n')).toHaveLength(1);
    const v1 = await runPlait(['manifest', 'push', '--format', 'v2s1', 'one', `docker://${R}/x/y:z`], { env });
    expect(v1.code).toBe(1);
    expect(v1.stderr).toMatch(/schema 1/);
    expect(await plait(env, 'manifest', 'rm', 'one')).toMatch(/^Deleted: [0-9a-f]{64}$/);
    expect((await runPlait(['manifest', 'exists', 'one'], { env })).code).toBe(1);
  });
});
