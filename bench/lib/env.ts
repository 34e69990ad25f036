import { readFile } from 'node:fs/promises';
import { availableParallelism, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { measure } from './proc.js';

// What the report says about the machine and the tools, so figures are read against the box they came from.

export interface Environment {
  date: string;
  cpus: string;
  memory: string;
  kernel: string;
  os: string;
  versions: Record<string, string>;
  /** What the environment adds to every Node start, when it adds something (NODE_EXTRA_CA_CERTS). */
  nodeStart?: string;
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await measure(cmd, args, { allowFail: true, timeoutMs: 20_000 });
    return (r.stdout || r.stderr).trim().split('\n')[0] ?? '?';
  } catch {
    return 'not found';
  }
}

async function cpuModel(): Promise<string> {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(await readFile('/proc/cpuinfo', 'utf8'));
    return m?.[1]?.trim() ?? '';
  } catch {
    return '';
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

// NODE_EXTRA_CA_CERTS, if the machine sets it, is read and parsed by Node 20 at every start, before any script runs
// (Node 24 only when TLS first needs it): a machine-wide bundle of ~150 certificates costs ~50 ms per process, in
// plait's rows and in the `node -e 0` floor alike. The header says what it costs here, with it and without.
async function extraCaCost(node: string): Promise<string | undefined> {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (file === undefined || file === '') return undefined;
  let certs = '?';
  try {
    certs = String((await readFile(file, 'utf8')).split('BEGIN CERTIFICATE').length - 1);
  } catch {
    // Unreadable: Node warns and goes on; the timing still says what it costs.
  }
  const without = { ...process.env };
  delete without.NODE_EXTRA_CA_CERTS;
  const w: number[] = [];
  const wo: number[] = [];
  for (let i = 0; i < 7; i++) {
    w.push((await measure(node, ['-e', '0'])).wallMs);
    wo.push((await measure(node, ['-e', '0'], { env: without })).wallMs);
  }
  return `NODE_EXTRA_CA_CERTS is set (${file}, ${certs} certificates), so every Node row, plait's and the \`node -e 0\` floor's, runs with it as a user of this machine would: \`node -e 0\` takes ${median(w).toFixed(0)} ms with it and ${median(wo).toFixed(0)} ms without (medians of 7, alternated)`;
}

export async function describeEnvironment(repoRoot: string, node: string = process.execPath): Promise<Environment> {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const rev = await firstLine('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']);
  const dirty = (await measure('git', ['-C', repoRoot, 'status', '--porcelain', '--untracked-files=no'], { allowFail: true })).stdout.trim() !== '';
  let os = '';
  try {
    os = `Debian ${(await readFile('/etc/debian_version', 'utf8')).trim()}`;
  } catch {
    os = 'unknown OS';
  }
  const model = await cpuModel();
  const nodeStart = await extraCaCost(node);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpus: `${availableParallelism()} CPUs (nproc)${model ? `, ${model}` : ''}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    os,
    versions: {
      plait: `${pkg.version} (git ${rev}${dirty ? ', with uncommitted changes' : ''})`,
      node: (await firstLine(node, ['--version'])) + (node === process.execPath ? '' : ` (${node})`),
      skopeo: (await firstLine('skopeo', ['--version'])).replace(/^skopeo version /, ''),
      buildah: (await firstLine('buildah', ['--version'])).replace(/^buildah version /, ''),
      'docker-registry': await firstLine('dpkg-query', ['-W', '-f', '${Version}', 'docker-registry']),
      curl: (await firstLine('curl', ['--version'])).split(' ')[1] ?? '?',
    },
    ...(nodeStart !== undefined && { nodeStart }),
  };
}
