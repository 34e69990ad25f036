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
  };
}
