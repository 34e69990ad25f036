import { mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { measure } from './proc.js';
import type { RunOptions, RunResult } from './proc.js';

// How plait and the peers are invoked. plait is the built CLI (node dist/cli/main.js). skopeo and buildah get a
// private policy (insecureAcceptAnything), an empty registries.conf / registries.d / auth file, and buildah its own
// root and runroot on the vfs driver, so nothing of the machine's containers configuration plays a part. The one
// state they share with the machine is containers/image's blob-info cache, which has no flag to relocate it.

export const BLOB_INFO_CACHES = [
  '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
  join(homedir(), '.local/share/containers/cache/blob-info-cache-v1.boltdb'),
];

export interface Tools {
  work: string;
  plaitMain: string;
  /** The Node binary plait runs on (the bench's own unless --node). */
  node: string;
  /** --jobs for plait in the cold-copy cases (bench --jobs), else plait's default. */
  copyJobs?: number;
  policy: string;
  peerEnv: NodeJS.ProcessEnv;
  skopeoGlobal: string[];
  buildahGlobal: string[];
}

/** plaitRoot holds dist/ (the CLI is dist/cli/main.js). */
export async function makeTools(work: string, plaitRoot: string, node: string = process.execPath): Promise<Tools> {
  const dir = join(work, 'peer-config');
  await mkdir(join(dir, 'registries.d'), { recursive: true });
  const policy = join(dir, 'policy.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
  await writeFile(join(dir, 'auth.json'), JSON.stringify({ auths: {} }));
  const peerEnv = {
    ...process.env,
    CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
    REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
  };
  return {
    work,
    plaitMain: join(plaitRoot, 'dist', 'cli', 'main.js'),
    node,
    policy,
    peerEnv,
    skopeoGlobal: ['--policy', policy, '--registries.d', join(dir, 'registries.d')],
    buildahGlobal: ['--root', join(work, 'buildah', 'root'), '--runroot', join(work, 'buildah', 'run'), '--storage-driver', 'vfs'],
  };
}

export function plait(t: Tools, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return measure(t.node, [t.plaitMain, ...args], opts);
}

export function skopeo(t: Tools, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return measure('skopeo', [...t.skopeoGlobal, ...args], { env: t.peerEnv, ...opts });
}

export function buildah(t: Tools, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return measure('buildah', [...t.buildahGlobal, ...args], { env: t.peerEnv, ...opts });
}

/** Forget every blob location the peers learnt (their "empty cache" runs). */
export async function clearBlobInfoCache(): Promise<void> {
  await Promise.all(BLOB_INFO_CACHES.map((f) => rm(f, { force: true })));
}

/** Flags every peer copy gets: the lab registries are plain HTTP. */
export const PEER_TLS = ['--src-tls-verify=false', '--dest-tls-verify=false'];
