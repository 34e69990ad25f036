import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PLAIT_BIN, runPlait } from '../../helpers/cli.js';

// What a start of the bundled CLI loads. Each module a command does not need is start-up every run pays: these check
// the outcome (which modules end up loaded), not a time.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function version(): Promise<string> {
  return (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

interface Loaded {
  /** Node's built-in modules, from process.moduleLoadList. */
  builtins: string[];
  /** Files of CommonJS modules (node_modules), from the require cache. */
  files: string[];
}

/** What a run of the CLI with `args` loaded, read at exit; the run ends with `code` and says `stderr`. */
async function modulesLoaded(args: string[], code = 0, stderr = ''): Promise<Loaded> {
  const dir = await mkdtemp(join(tmpdir(), 'plait-start-'));
  dirs.push(dir);
  // A CommonJS hook, preloaded with --require: one preloaded with --import would start Node's ES module loader itself.
  const hook = join(dir, 'loaded.cjs');
  const out = join(dir, 'loaded.json');
  await writeFile(hook, [
    `const { writeFileSync } = require('node:fs');`,
    `process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify({ list: process.moduleLoadList, files: Object.keys(require.cache) })));`,
  ].join('\n'));
  const run = await runPlait(args, { cwd: ROOT, env: { NODE_OPTIONS: `--require=${hook}` } });
  expect(run.stderr).toBe(stderr);
  expect(run.code).toBe(code);
  const { list, files } = JSON.parse(await readFile(out, 'utf8')) as { list: string[]; files: string[] };
  return { builtins: list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)), files };
}

const builtinsLoaded = async (args: string[]): Promise<string[]> => (await modulesLoaded(args)).builtins;

describe('start-up of the bundled CLI', () => {
  it('--version answers from main.js alone: no chunk, no package.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-version-'));
    dirs.push(dir);
    // Nothing beside it: an import of any chunk, or a read of package.json, would fail here.
    await copyFile(PLAIT_BIN, join(dir, 'main.js'));
    const want = `plait version ${await version()}\n`;
    for (const arg of ['--version', 'version']) {
      const run = await promisify(execFile)(process.execPath, [join(dir, 'main.js'), arg], { cwd: dir });
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe(want);
    }
  });

  it('validate loads neither node:crypto nor node:child_process', async () => {
    const loaded = await builtinsLoaded(['validate', 'examples/web.yaml']);
    expect(loaded).toContain('fs'); // the list is read at all
    expect(loaded.filter((m) => m === 'crypto' || m === 'child_process' || m === 'http2' || m === 'http')).toEqual([]);
  });

  it('validate loads neither node:v8 (the wasm flag is set where undici loads), node:fs/promises nor util\'s lazy parts', async () => {
    const loaded = await builtinsLoaded(['validate', 'examples/web.yaml']);
    expect(loaded).toContain('fs');
    // worker_threads and the colours come with node:util's ES module on Node 24 (see src/cli/flags.ts).
    expect(loaded.filter((m) => m === 'v8' || m === 'fs/promises' || m === 'worker_threads' || m === 'internal/util/colors')).toEqual([]);
  });

  it('validate writes its result without making process.stdout, which for a pipe loads node:net', async () => {
    const loaded = await builtinsLoaded(['validate', 'examples/web.yaml']); // stdout is a pipe here, as in CI
    expect(loaded).toContain('fs');
    expect(loaded).not.toContain('net');
  });

  it('the bundle is CommonJS: its chunks load through require(), not Node\'s ES module loader', async () => {
    const { files } = await modulesLoaded(['validate', 'examples/web.yaml']);
    const own = files.filter((f) => f.startsWith(join(ROOT, 'dist', 'cli')));
    // main.js, the run and commands chunks, validate's own and the chunks it shares (yaml, the validator): had they
    // been ES modules, none would be in the require cache.
    expect(own).toContain(PLAIT_BIN);
    expect(own.filter((f) => f.includes('/chunks/')).length).toBeGreaterThan(3);
  });

  it('a registry command carries undici in the bundle and leaves its HTTP/2 half (and node:http2) unloaded', async () => {
    // Any registry answers: this one knows no manifest, and the command fails after one request.
    const server = createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const where = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const loaded = await modulesLoaded(['inspect', '--plain-http', `docker://${where}/start-up:v1`], 1,
        `plait: ${where}: reading manifest start-up:v1: MANIFEST_UNKNOWN: manifest unknown\n`);
      expect(loaded.builtins).toContain('net'); // it did connect
      expect(loaded.builtins).not.toContain('http2');
      // Of undici's files only llhttp's WebAssembly is read from node_modules, at the first connection.
      const undici = loaded.files.filter((f) => f.includes('/node_modules/undici/')).map((f) => f.slice(f.indexOf('/undici/') + 1));
      expect(undici).toEqual(['undici/lib/llhttp/llhttp_simd-wasm.js']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('taking the store\'s lock requires proper-lockfile: Node\'s ES module loader starts no further than for validate', async () => {
    const store = await mkdtemp(join(tmpdir(), 'plait-start-store-'));
    dirs.push(store);
    const esm = (l: Loaded) => l.builtins.filter((m) => m.startsWith('internal/modules/esm/'));
    const locked = await modulesLoaded(['manifest', 'create', '--store', store, 'esm-loader']);
    expect(locked.files.some((f) => f.includes('/node_modules/proper-lockfile/'))).toBe(true);
    // An import() would have loaded the loader's job, translators and resolver (Node 20 has none at start).
    expect(esm(locked)).toEqual(esm(await modulesLoaded(['validate', 'examples/web.yaml'])));
  });

  it('a command that only reads the store does not load proper-lockfile; one that writes it does', async () => {
    const store = await mkdtemp(join(tmpdir(), 'plait-start-store-'));
    dirs.push(store);
    const lockfile = (l: Loaded) => l.files.filter((f) => f.includes('/node_modules/proper-lockfile/'));
    // The check can tell: creating a list takes its lock.
    expect(lockfile(await modulesLoaded(['manifest', 'create', '--store', store, 'start-up']))).not.toEqual([]);
    const read = await modulesLoaded(['manifest', 'exists', '--store', store, 'start-up']);
    expect(read.files.length).toBeGreaterThan(0);
    expect(lockfile(read)).toEqual([]);
  });
});
