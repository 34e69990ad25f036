// Installing plait as a user would: `npm pack` then `npm install -g` of the tarball, and `npm install -g` of a clone,
// each into a fresh prefix, then `<prefix>/bin/plait --version`. The clone is made from this repository's HEAD, so
// what is tested is what is committed. Dependencies come from npm's cache (filled by the project's own `npm ci`),
// through a loopback registry made from package-lock.json: no network but loopback.

import { execFile } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLockRegistry } from '../helpers/lock-registry.js';
import type { LockRegistry } from '../helpers/lock-registry.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let dir: string;
let registry: LockRegistry;
let env: NodeJS.ProcessEnv;

let tarballEnv: NodeJS.ProcessEnv;

async function npm(args: string[], cwd: string, withEnv = env): Promise<string> {
  const r = await run('npm', args, { cwd, env: withEnv, maxBuffer: 64 * 1024 * 1024 });
  expectScriptsAllowed(r.stderr);
  return r.stdout;
}

// npm ≥ 11.16 lists the dependencies whose install scripts no `allowScripts` entry (package.json, for a project's
// own install) or `--allow-scripts` (a global one) covers, and npm 12 skips those scripts: zstd-napi's builds its
// binding. So no install here may leave one uncovered, except plait's own `prepare` in a global install of its
// tarball or clone: npm 11.19 lists it there even with `--allow-scripts=plait`, and it has nothing to do in either
// (dist/ is in the tarball, and the clone's npm ci built it).
function expectScriptsAllowed(stderr: string): void {
  const uncovered = [...stderr.matchAll(/^npm warn install-scripts {3}(\S+)@\S+ \(/gm)].map((m) => m[1]);
  expect(uncovered.filter((name) => name !== 'plait')).toEqual([]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-install-'));
  const cache = (await run('npm', ['config', 'get', 'cache'])).stdout.trim();
  registry = await startLockRegistry(join(ROOT, 'package-lock.json'), join(cache, '_cacache'));
  env = {
    ...process.env,
    npm_config_registry: registry.url,
    npm_config_cache: cache,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    // zstd-napi compiles against the system's Node headers.
    npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr',
    // …from source, without first trying to download a prebuilt binary (there is no network to try).
    npm_config_build_from_source: 'true',
  };
  // A clean clone: no dist/, no node_modules, only what git has.
  await run('git', ['clone', '--quiet', '--no-hardlinks', ROOT, join(dir, 'clone')]);
  // The project's own install: from the lockfile, offline; `prepare` must build dist/ since a clone has none.
  // The lockfile names each tarball's URL, and npm ci finds them in the cache by integrity: no registry at all.
  const { npm_config_registry: _r, ...ciEnv } = env;
  const ci = await run('npm', ['ci', '--offline'], { cwd: join(dir, 'clone'), env: ciEnv, maxBuffer: 64 * 1024 * 1024 });
  expectScriptsAllowed(ci.stderr);
  // zstd-napi's binding, just compiled from source by that install, offered to the tarball install as a prebuilt
  // one through zstd-napi's own install script (prebuild-install's local prebuilds): compiling the same sources
  // twice was most of this file's CPU time. Its download URL is a closed loopback port, so a prebuild not found
  // there can only end in the from-source build, never in a request off the machine.
  const prebuilds = join(dir, 'prebuilds');
  await mkdir(prebuilds);
  await run('tar', ['-czf', join(prebuilds, 'zstd-napi-binding.tar.gz'), '-C', join(dir, 'clone', 'node_modules', 'zstd-napi'), 'build/Release/binding.node']);
  tarballEnv = {
    ...env,
    npm_config_build_from_source: undefined,
    npm_config_download: 'http://127.0.0.1:9/zstd-napi-binding.tar.gz',
    npm_config_zstd_napi_local_prebuilds: prebuilds,
  };
}, 900_000);

afterAll(async () => {
  await registry?.close();
  await rm(dir, { recursive: true, force: true });
});

async function checkBin(prefix: string): Promise<void> {
  const bin = join(prefix, 'bin', 'plait');
  await access(bin, constants.X_OK);
  const { stdout } = await run(bin, ['--version'], { env });
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  expect(stdout).toBe(`plait version ${version}\n`);
  // And a command that loads the spec layer and its dependencies, not only the entry point.
  const help = await run(bin, ['validate', '--help'], { env });
  expect(help.stdout).toMatch(/^Usage: plait validate/);
  // The installed zstd binding loads and round-trips (the tarball's came prebuilt, the clone's was compiled).
  const pkg = join(prefix, 'lib', 'node_modules', 'plait');
  const zstd = await run(process.execPath, ['-e', `const z = require(require.resolve('zstd-napi', { paths: [${JSON.stringify(pkg)}] }));
const b = Buffer.from('plait '.repeat(1000)); process.stdout.write(String(Buffer.compare(z.decompress(z.compress(b)), b)));`], { env });
  expect(zstd.stdout).toBe('0');
}

describe('install', () => {
  it('npm ci in a clone builds dist/ (prepare), with the shebang on the bin', async () => {
    const main = await readFile(join(dir, 'clone', 'dist', 'cli', 'main.js'), 'utf8');
    expect(main.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('npm pack, then npm install -g of the tarball, gives a working plait', async () => {
    const out = await npm(['pack', '--pack-destination', dir], join(dir, 'clone'));
    const tgz = out.trim().split('\n').at(-1)!;
    const prefix = join(dir, 'from-tarball');
    await npm(['install', '-g', '--allow-scripts=zstd-napi', '--prefer-offline', '--prefix', prefix, join(dir, tgz)], dir, tarballEnv);
    // zstd-napi took the binding offered, not a compile of its own (which would leave its object files).
    const zstdDir = join(prefix, 'lib', 'node_modules', 'plait', 'node_modules', 'zstd-napi');
    await access(join(zstdDir, 'build', 'Release', 'binding.node'));
    expect(await readdir(join(zstdDir, 'build', 'Release'))).not.toContain('obj.target');
    await checkBin(prefix);
    // Only what a user needs is packed.
    const installed = await readdir(join(prefix, 'lib', 'node_modules', 'plait'));
    expect(installed.sort()).toEqual(expect.arrayContaining(['README.md', 'dist', 'package.json', 'schemas']));
    expect(installed).not.toContain('src');
    expect(installed).not.toContain('test');
  }, 900_000);

  it('npm install -g of a clone gives a working plait', async () => {
    const prefix = join(dir, 'from-clone');
    await npm(['install', '-g', '--prefer-offline', '--prefix', prefix, join(dir, 'clone')], dir);
    await checkBin(prefix);
  }, 900_000);
});
