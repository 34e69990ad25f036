import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateLayout } from './fixtures/generate.js';
import type { FixturePlatform } from './fixtures/generate.js';
import { run } from './proc.js';
import type { LabInfo } from './lab.js';

// Fixtures made by the real peers, once per test run, on the plain lab registry: single-platform images, a list
// assembled and pushed by buildah (OCI and --format v2s2), and an index copied by skopeo --all. Later tests load,
// inspect and re-push these to prove plait reads what the peers write.

export interface PeerImage { ref: string; digest: string; platform: string }

export interface PeerFixtures {
  registry: string;
  /** Single-platform images in lab/app, tagged by platform (linux-amd64, linux-arm64-v8, …). */
  singles: PeerImage[];
  /** The same images, one repository per platform (lab/app-<plat>:v1), for cross-repository assembly. */
  perRepo: PeerImage[];
  /** buildah manifest create + add (each single) + push --all: an OCI index. */
  buildahList: PeerImage;
  /** The same list pushed with --format v2s2: a Docker manifest list (children converted, new digests). */
  buildahListV2s2: PeerImage;
  /** A 4-platform OCI index pushed from a layout with skopeo copy --all. */
  skopeoIndex: PeerImage;
  /** Arguments for the peers: their own storage, a policy file, the registries they may talk to. */
  buildahArgs: string[];
  skopeoArgs: string[];
  layoutDir: string;
}

export const LAB_PLATFORMS: FixturePlatform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 'ppc64le' },
  { os: 'windows', architecture: 'amd64', osVersion: '10.0.17763.5458' },
];

export const platformTag = (p: FixturePlatform) => [p.os, p.architecture, p.variant].filter(Boolean).join('-');
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function makePeerFixtures(lab: LabInfo): Promise<PeerFixtures> {
  const root = join(lab.root, 'peers');
  await mkdir(root, { recursive: true });
  const policy = join(root, 'policy.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const R = lab.plain.host;
  const skopeoArgs = ['--policy', policy];
  const buildahArgs = ['--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs'];
  const skopeo = (...args: string[]) => run('skopeo', [...skopeoArgs, ...args]);
  const rawDigest = async (ref: string) => sha256(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));

  const layoutDir = join(root, 'layout');
  const singles = await generateLayout({
    dir: layoutDir, tag: 'app', seed: 'plait-lab-peers',
    images: LAB_PLATFORMS.map((platform) => ({ platform, layers: 2, layerSize: 2048, data: 'random' as const })),
  });
  const singleRefs: PeerImage[] = [];
  const perRepo: PeerImage[] = [];
  for (const img of singles.images) {
    const tag = platformTag(img.platform);
    const plat = [img.platform.os, img.platform.architecture, img.platform.variant].filter(Boolean).join('/');
    const ref = `${R}/lab/app:${tag}`;
    await skopeo('copy', '--dest-tls-verify=false', `oci:${layoutDir}:${img.ref!}`, `docker://${ref}`);
    singleRefs.push({ ref, digest: img.manifest.digest, platform: plat });
    const repoRef = `${R}/lab/app-${tag}:v1`;
    await skopeo('copy', '--dest-tls-verify=false', `oci:${layoutDir}:${img.ref!}`, `docker://${repoRef}`);
    perRepo.push({ ref: repoRef, digest: img.manifest.digest, platform: plat });
  }

  const indexLayout = await generateLayout({
    dir: join(root, 'index-layout'), tag: 'multi', seed: 'plait-lab-index', index: true,
    images: [
      { os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 's390x' },
    ].map((platform) => ({ platform, layers: 1, layerSize: 4096, data: 'random' as const })),
  });
  const skopeoRef = `${R}/lab/app:multi-oci`;
  await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${indexLayout.dir}:multi`, `docker://${skopeoRef}`);

  const list = 'plait-lab-multi';
  const buildah = (...args: string[]) => run('buildah', [...buildahArgs, ...args]);
  await buildah('manifest', 'create', list);
  for (const s of singleRefs) await buildah('manifest', 'add', '--tls-verify=false', list, `docker://${s.ref}`);
  const buildahRef = `${R}/lab/app:multi-buildah`;
  const buildahV2Ref = `${R}/lab/app:multi-buildah-v2s2`;
  await buildah('manifest', 'push', '--all', '--tls-verify=false', '--signature-policy', policy, list, `docker://${buildahRef}`);
  await buildah('manifest', 'push', '--all', '--format', 'v2s2', '--tls-verify=false', '--signature-policy', policy, list, `docker://${buildahV2Ref}`);

  return {
    registry: R,
    singles: singleRefs,
    perRepo,
    buildahList: { ref: buildahRef, digest: await rawDigest(buildahRef), platform: '' },
    buildahListV2s2: { ref: buildahV2Ref, digest: await rawDigest(buildahV2Ref), platform: '' },
    skopeoIndex: { ref: skopeoRef, digest: await rawDigest(skopeoRef), platform: '' },
    buildahArgs,
    skopeoArgs,
    layoutDir,
  };
}
