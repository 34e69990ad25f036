import { existsSync } from 'node:fs';
import { mkdir, readlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labBinDir } from '../../test/lab/registry.js';
import { measure } from './proc.js';
import type { RunOptions, RunResult } from './proc.js';

// The Go-built peers users pick besides skopeo and buildah: crane, regctl, regsync, manifest-tool, oras, and
// distribution v3's registry. They come from .ci/build-go-parts.sh (cached by version under $PLAIT_LAB_CACHE); the
// bench builds the missing ones itself. Every peer runs with a private HOME and DOCKER_CONFIG (no credentials, no
// machine configuration), and talks plain HTTP to the lab registries through its own flag for that.

export const GO_PEERS = ['crane', 'regctl', 'regsync', 'oras', 'manifest-tool', 'registry-v3'] as const;
export type GoPeer = (typeof GO_PEERS)[number];

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bin = (name: GoPeer): string => join(labBinDir(), name);

export interface GoPeers {
  env: NodeJS.ProcessEnv;
  /** name → version, from the versioned folder the cache link points at ("crane-v0.22.1" → v0.22.1). */
  versions: Record<string, string>;
}

/** Build what is missing (cached), give each peer a private home, tell regctl the lab hosts are plain HTTP. */
export async function ensureGoPeers(work: string, log: (l: string) => void): Promise<GoPeers> {
  const missing = GO_PEERS.filter((p) => !existsSync(bin(p)));
  if (missing.length > 0) {
    log(`building the Go peers ${missing.join(', ')} (.ci/build-go-parts.sh, cached)`);
    await measure('bash', [join(repoRoot, '.ci', 'build-go-parts.sh'), ...missing], { timeoutMs: 30 * 60_000 });
  }
  const home = join(work, 'go-peer-home');
  await mkdir(join(home, '.docker'), { recursive: true });
  await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: {} }));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker') };
  const versions: Record<string, string> = {};
  for (const p of GO_PEERS) {
    const target = await readlink(bin(p)).catch(() => '');
    versions[p] = basename(dirname(target)).slice(p.length + 1) || '?';
  }
  return { env, versions };
}

/** regctl keeps per-host settings in its config file (under the private HOME): plain HTTP for each lab host. */
export async function regctlPlainHttp(g: GoPeers, hosts: string[]): Promise<void> {
  for (const h of hosts) await measure(bin('regctl'), ['registry', 'set', h, '--tls', 'disabled'], { env: g.env });
}

const run = (g: GoPeers, name: GoPeer, args: string[], opts: RunOptions = {}): Promise<RunResult> =>
  measure(bin(name), args, { env: g.env, ...opts });

export const crane = (g: GoPeers, args: string[], opts?: RunOptions) => run(g, 'crane', [...args, '--insecure'], opts);
export const regctl = (g: GoPeers, args: string[], opts?: RunOptions) => run(g, 'regctl', args, opts);
export const regsync = (g: GoPeers, args: string[], opts?: RunOptions) => run(g, 'regsync', args, opts);
export const oras = (g: GoPeers, args: string[], opts?: RunOptions) => run(g, 'oras', [...args, '--plain-http'], opts);
export const manifestTool = (g: GoPeers, args: string[], opts?: RunOptions) => run(g, 'manifest-tool', ['--plain-http', '--insecure', ...args], opts);

export interface SyncPair {
  /** host/repo:tag */
  source: string;
  target: string;
}

/** A regsync configuration: the given hosts plain HTTP, one image sync per pair, `parallel` at a time. */
export async function regsyncConfig(file: string, hosts: string[], pairs: SyncPair[], parallel = 4): Promise<string> {
  const lines = ['version: 1', 'creds:', ...hosts.flatMap((h) => [`  - registry: "${h}"`, '    tls: disabled']),
    'defaults:', `  parallel: ${parallel}`, 'sync:'];
  for (const p of pairs) lines.push(`  - source: "${p.source}"`, `    target: "${p.target}"`, '    type: image');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

/** A manifest-tool `push from-spec` YAML: the list at `image`, one entry per child reference with its platform. */
export async function manifestToolSpec(file: string, image: string, children: Array<{ ref: string; os: string; architecture: string; variant?: string }>): Promise<string> {
  const lines = [`image: ${image}`, 'manifests:'];
  for (const c of children) {
    lines.push(`  - image: ${c.ref}`, '    platform:', `      os: ${c.os}`, `      architecture: ${c.architecture}`);
    if (c.variant) lines.push(`      variant: ${c.variant}`);
  }
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}
