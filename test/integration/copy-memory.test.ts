import { afterAll, describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateLayout } from '../lab/fixtures/generate.js';
import { skopeoCopy } from '../lab/fixtures/skopeo.js';
import { PLAIT_BIN } from '../helpers/cli.js';

// Peak memory of a registry-to-registry copy of one layer, as the bench's big-layer rows measure it: `plait apply` of
// a one-source spec with an empty store, in its own process, its peak RSS (ru_maxrss) from GNU time. A 1 MiB layer
// goes first, then a 256 MiB one; every byte streams, so what the larger layer adds must stay small. Before dead
// read buffers were reclaimed as the bytes went (src/transports/reclaim.ts, and 256 KiB stream buffers instead of a
// MiB) the 256 MiB copy peaked 34 MiB above the 1 MiB one (Node 20 here: 65 → 99 MiB); since, ~6 MiB (64 → 70). The
// bound of 16 MiB is the bench's own "flat" margin. It does not depend on the machine's speed: the reclaiming is paced
// by bytes, not by time.

const lab = inject('lab');
const MiB = 1024 * 1024;
const exec = promisify(execFile);
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Put a one-layer image of `mib` MiB of random data on the plain registry; copy it to v3 with plait; peak RSS in MiB. */
async function copyPeak(mib: number): Promise<{ peak: number; digest: string; dest: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'plait-copymem-'));
  dirs.push(dir);
  const tag = `l${mib}m`;
  const g = await generateLayout({
    dir: join(dir, 'layout'), tag, gzipLevel: 0, seed: `copy-memory-${mib}`,
    images: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: 1, layerSize: mib * MiB, data: 'random', ref: tag }],
  });
  const id = `${Date.now().toString(36)}-${mib}`;
  const src = `${lab.plain.host}/copy-memory/src-${id}:v1`;
  await skopeoCopy(`oci:${join(dir, 'layout')}:${tag}`, `docker://${src}`, { destTlsVerify: false });
  // The layout's blobs are not needed any more: the disk they take is given back before the copy.
  await rm(join(dir, 'layout'), { recursive: true, force: true });
  const dest = `${lab.v3.host}/copy-memory/dest-${id}`;
  const spec = join(dir, 'spec.yaml');
  await writeFile(spec, `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata: {name: copy-memory-${mib}}
spec:
  destination: {image: ${dest}, tags: [v1]}
  sources:
    - image: ${src}
`);
  const rss = join(dir, 'maxrss');
  await exec('/usr/bin/time', ['-f', '%M', '-o', rss, process.execPath, PLAIT_BIN, 'apply', '--plain-http', '--store', join(dir, 'store'), spec],
    { maxBuffer: 16 * MiB });
  return { peak: Number((await readFile(rss, 'utf8')).trim().split('\n').pop()) / 1024, digest: g.images[0]!.manifest.digest, dest };
}

async function childDigest(dest: string): Promise<string> {
  const res = await fetch(`http://${dest.replace('/', '/v2/')}/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json' } });
  expect(res.status).toBe(200);
  const index = await res.json() as { manifests: Array<{ digest: string }> };
  return index.manifests[0]!.digest;
}

describe('copy memory', () => {
  it('copying a 256 MiB layer between registries peaks less than 16 MiB above copying a 1 MiB one', async () => {
    const small = await copyPeak(1);
    const big = await copyPeak(256);
    const growth = big.peak - small.peak;
    console.log(`one-layer copy A→B, peak RSS: 1 MiB ${small.peak.toFixed(1)} MiB, 256 MiB ${big.peak.toFixed(1)} MiB (growth ${growth.toFixed(1)} MiB)`);
    // Both copies did copy: the list each pushed names the source image, byte for byte.
    expect(await childDigest(small.dest)).toBe(small.digest);
    expect(await childDigest(big.dest)).toBe(big.digest);
    expect(growth).toBeLessThan(16);
  }, 300_000);
});
