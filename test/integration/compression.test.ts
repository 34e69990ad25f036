import { afterAll, describe, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { makeListVariants, makeVariant } from '../../src/core/compression/variants.js';
import type { VariantManifest } from '../../src/core/compression/variants.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { Store } from '../../src/core/store/index.js';
import { parseManifest, parseManifestList } from '../../src/oci/manifest.js';
import { ANNOTATION_ZSTD_INSTANCE, OCI_INDEX, OCI_LAYER_ZSTD, OCI_MANIFEST } from '../../src/oci/mediatype.js';
import type { Descriptor, ImageManifest } from '../../src/oci/types.js';
import { closeAllClients, openImage } from '../../src/transports/index.js';
import type { TransportOptions } from '../../src/transports/index.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import type { AccessEntry } from '../lab/access-log.js';
import { run } from '../lab/proc.js';

// zstd compression variants against the real registry (distribution 2.8) and read back by the real peers: skopeo
// 1.9 must be able to copy every clone, the zstd CLI must decompress every new layer to exactly the tar the gzip
// original holds (= the config's diff_id), and a second run with the same store must reuse everything (the
// registry's access log shows no blob upload at all).

const lab = inject('lab');
const peers = inject('peers');
const plain: TransportOptions = { plainHttp: true };
const R = lab.plain.host;
const dirs: string[] = [];
const tmp = async (p: string) => {
  const d = await mkdtemp(join(tmpdir(), `plait-compression-${p}-`));
  dirs.push(d);
  return d;
};

afterAll(async () => {
  await closeAllClients();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** sha256 of what `cmd args…` writes to stdout (a decompressor's output), streamed. */
function shaOfOutput(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const h = createHash('sha256');
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => h.update(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(`sha256:${h.digest('hex')}`) : reject(new Error(`${cmd} exited ${code}: ${stderr}`))));
  });
}

async function policyFile(): Promise<string> {
  const p = join(await tmp('policy'), 'policy.json');
  await writeFile(p, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return p;
}

function imageOf(bytes: Buffer | string): ImageManifest {
  const p = parseManifest(bytes);
  if (p.kind !== 'image') throw new Error('expected an image manifest');
  return p.manifest;
}

const uploads = (entries: AccessEntry[], repo: string) =>
  entries.filter((e) => e.path.startsWith(`/v2/${repo}/blobs/uploads/`) && (e.method === 'PUT' || e.method === 'PATCH'));

describe('zstd variants of the skopeo index', () => {
  const repo = 'compression/zstd';
  const src = () => openImage(`docker://${peers.skopeoIndex.ref}`, plain);
  let store: Store;
  let first: VariantManifest[] = [];
  let instances: Descriptor[] = [];

  it('each instance gets a zstd clone that skopeo copies and whose layers decompress to the diff_ids', async () => {
    store = await Store.open(await tmp('store'));
    const s = src();
    const dest = openImage(`docker://${R}/${repo}:v1`, plain);
    const list = await s.getManifest();
    instances = parseManifestList(list.bytes, list.mediaType).index.manifests ?? [];
    expect(instances).toHaveLength(4);
    first = [];
    for (const d of instances) {
      first.push(await makeVariant({ src: s, dest, instanceManifest: await s.getManifest(d.digest), algorithm: 'zstd', store }));
    }
    const policy = await policyFile();
    for (const [i, clone] of first.entries()) {
      const original = imageOf((await s.getManifest(instances[i]!.digest)).bytes);
      const m = imageOf(clone.bytes);
      expect(clone.mediaType).toBe(OCI_MANIFEST);
      expect(m.config).toEqual(original.config);
      expect(m.layers.map((l) => l.mediaType)).toEqual(original.layers.map(() => OCI_LAYER_ZSTD));

      // The registry has it under its digest, and skopeo reads it whole (manifest, config, zstd layers).
      expect(sha(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/${repo}@${clone.digest}`]))).toBe(clone.digest);
      const dir = await tmp('skopeo');
      await run('skopeo', ['--policy', policy, 'copy', '--src-tls-verify=false', `docker://${R}/${repo}@${clone.digest}`, `oci:${dir}:x`]);
      const copied = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      expect(copied.manifests[0]!.digest).toBe(clone.digest);
      const blob = (d: string) => join(dir, 'blobs', 'sha256', d.slice('sha256:'.length));
      const config = JSON.parse(await readFile(blob(m.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };

      for (const [j, layer] of m.layers.entries()) {
        const gz = join(await tmp('gzip'), 'layer.gz');
        await pipeline(await s.getBlob({ digest: original.layers[j]!.digest, size: original.layers[j]!.size }), createWriteStream(gz));
        const fromZstd = await shaOfOutput('zstd', ['-d', '-c', blob(layer.digest)]);
        expect(fromZstd).toBe(await shaOfOutput('gzip', ['-dc', gz]));
        expect(fromZstd).toBe(config.rootfs.diff_ids[j]);
      }
    }
  });

  it('a second run with the same store gives the same digests and uploads nothing', async () => {
    const s = src();
    const dest = openImage(`docker://${R}/${repo}:v1`, plain);
    const mark = await logMark(lab.plain.accessLog);
    const again: VariantManifest[] = [];
    for (const d of instances) {
      again.push(await makeVariant({ src: s, dest, instanceManifest: await s.getManifest(d.digest), algorithm: 'zstd', store }));
    }
    const entries = (await entriesSince(lab.plain.accessLog, mark)).filter((e) => e.path.startsWith(`/v2/${repo}/`));
    expect(again.map((v) => v.digest)).toEqual(first.map((v) => v.digest));
    expect(again.every((v) => v.cached)).toBe(true);
    expect(uploads(entries, repo)).toEqual([]);
    expect(entries.filter((e) => e.method !== 'GET' && e.method !== 'HEAD')).toEqual([]);
    // What it did do: one HEAD per clone manifest, remembered in the store.
    expect(entries.filter((e) => e.method === 'HEAD' && e.path.includes('/manifests/'))).toHaveLength(4);
  });

  it('into another repository of the registry the remembered variants are mounted: same digests, no upload', async () => {
    const other = 'compression/zstd-elsewhere';
    const s = src();
    const dest = openImage(`docker://${R}/${other}:v1`, plain);
    const mark = await logMark(lab.plain.accessLog);
    const moved: VariantManifest[] = [];
    for (const d of instances) {
      moved.push(await makeVariant({ src: s, dest, instanceManifest: await s.getManifest(d.digest), algorithm: 'zstd', store }));
    }
    const entries = (await entriesSince(lab.plain.accessLog, mark)).filter((e) => e.path.startsWith(`/v2/${other}/`));
    expect(moved.map((v) => v.digest)).toEqual(first.map((v) => v.digest));
    expect(moved.flatMap((v) => v.layers.map((l) => l.how))).toEqual(['mounted', 'mounted', 'mounted', 'mounted']);
    expect(uploads(entries, other)).toEqual([]);
    const mounts = entries.filter((e) => e.method === 'POST' && e.path.includes('mount='));
    expect(mounts.length).toBeGreaterThanOrEqual(4);
    expect(mounts.every((e) => e.status === 201)).toBe(true);
    expect(entries.filter((e) => e.method === 'PUT' && e.path.includes('/manifests/'))).toHaveLength(4);
  });
});

describe('a list with its zstd variants', () => {
  it('copy the index, add the clones, push the list: zstd entries last, skopeo copies all eight instances', async () => {
    const repo = 'compression/list';
    const store = await Store.open(await tmp('store'));
    const s = openImage(`docker://${peers.skopeoIndex.ref}`, plain);
    const dest = openImage(`docker://${R}/${repo}:gzip`, plain);
    await copyImage(s, dest);
    const list = await s.getManifest();
    const r = await makeListVariants({ src: s, dest, list, algorithms: ['zstd'], store });
    expect(r.clones).toHaveLength(4);
    await dest.putManifest(r.bytes, OCI_INDEX, 'with-zstd');

    const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/${repo}:with-zstd`]);
    expect(sha(raw)).toBe(r.digest);
    const pushed = parseManifestList(raw).index.manifests ?? [];
    expect(pushed.map((d) => d.annotations?.[ANNOTATION_ZSTD_INSTANCE] ?? 'gzip')).toEqual(['gzip', 'gzip', 'gzip', 'gzip', 'true', 'true', 'true', 'true']);
    expect(pushed.slice(0, 4).map((d) => d.digest)).toEqual((parseManifestList(list.bytes).index.manifests ?? []).map((d) => d.digest));
    expect(pushed.slice(4).map((d) => d.platform)).toEqual(pushed.slice(0, 4).map((d) => d.platform));

    const dir = await tmp('skopeo-all');
    await run('skopeo', ['--policy', await policyFile(), 'copy', '--all', '--src-tls-verify=false', `docker://${R}/${repo}:with-zstd`, `oci:${dir}:all`]);
    const top = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(top.manifests[0]!.digest).toBe(r.digest);
    // skopeo 1.9 (containers/image 5.22) ignores the annotation and takes the first platform match: the gzip original.
    const one = await tmp('skopeo-one');
    await run('skopeo', ['--policy', await policyFile(), '--override-arch', 'amd64', '--override-os', 'linux', 'copy', '--src-tls-verify=false', `docker://${R}/${repo}:with-zstd`, `oci:${one}:one`]);
    const chosen = JSON.parse(await readFile(join(one, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(chosen.manifests[0]!.digest).toBe(pushed.find((d) => d.platform?.architecture === 'amd64')!.digest);

    // Same again with the same store: the same list digest.
    const again = await makeListVariants({ src: s, dest, list, algorithms: ['zstd'], store });
    expect(again.digest).toBe(r.digest);
  });
});

function sha(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}
