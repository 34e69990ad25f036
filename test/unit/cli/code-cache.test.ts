import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../../lab/registry.js';
import { PLAIT_BIN, runPlait } from '../../helpers/cli.js';
import { cachedDataOf, entryHead, entryName } from '../../../src/cli/code-cache.js';

// The bundled CLI's code cache between runs (src/cli/code-cache.ts; beside it, Node's own on Node ≥ 22.1 for what
// plait's leaves to Node). These check what is on disk and what a run then does, not how fast it is.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const NODE_HAS_ITS_OWN = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';
const dirs: string[] = [];
let registry: RunningRegistry;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plait-cc-reg-'));
  dirs.push(dir);
  registry = await startRegistry({ name: 'code-cache', dir, auth: { kind: 'none' } });
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function cacheHome(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plait-cc-'));
  dirs.push(dir);
  return dir;
}

const BASE = `plait-code-cache-${process.getuid?.() ?? 'user'}`;

/** The cache's entries below TMPDIR `home`: file name → inode (a rewrite renames a new file in). */
async function entries(home: string): Promise<Map<string, number>> {
  const base = join(home, BASE);
  const out = new Map<string, number>();
  let runtimes: string[];
  try {
    runtimes = await readdir(base);
  } catch {
    return out;
  }
  for (const runtime of runtimes) {
    for (const name of await readdir(join(base, runtime))) out.set(join(runtime, name), (await stat(join(base, runtime, name))).ino);
  }
  return out;
}

const validate = (home: string, bin = PLAIT_BIN) => runPlait(['validate', join(ROOT, 'examples/web.yaml')], { env: { TMPDIR: home }, bin });
// A reconcile loads undici, which sets a V8 flag while the run's modules are still loading (src/v8-flags.ts): some of
// the chunks it shares with validate are compiled after it.
async function apply(home: string): Promise<{ code: number | null; stderr: string }> {
  const dir = await cacheHome();
  const spec = join(dir, 'list.yaml');
  await writeFile(spec, [
    'apiVersion: plait.dev/v1alpha1',
    'kind: ManifestList',
    'metadata: {name: cc}',
    'spec:',
    `  destination: {image: ${registry.host}/cc/out, tags: [v1]}`,
    `  sources: [{image: ${registry.host}/cc/none:v1}]`,
    '',
  ].join('\n'));
  return runPlait(['apply', '--plain-http', '--store', join(dir, 'store'), spec], { env: { TMPDIR: home } });
}

/** A list pushed with a GPG key that is none: openpgp (an ES module, loaded by import()) parses the file and refuses it. */
async function gpgKeyRead(home: string): Promise<{ code: number | null; stderr: string }> {
  const dir = await cacheHome();
  const key = join(dir, 'bad.asc');
  await writeFile(key, 'not a key\n', { mode: 0o600 });
  const store = join(dir, 'store');
  expect((await runPlait(['manifest', 'create', '--store', store, 'gpg'], { env: { TMPDIR: home } })).code).toBe(0);
  return runPlait(['manifest', 'push', '--store', store, '--sign-by-gpg-key', key, '--sign-identity', 'localhost/gpg:v1', 'gpg', `oci:${join(dir, 'out')}`], { env: { TMPDIR: home } });
}

describe('plait keeps compiled code between runs', () => {
  it('a run writes an entry per module it compiled, each stamped with its source', async () => {
    const home = await cacheHome();
    const run = await validate(home);
    expect(run.stderr).toBe('');
    expect(run.stdout.toString()).toBe('1 spec valid\n');
    const written = await entries(home);
    expect([...written.keys()].every((k) => k.startsWith(`${process.version}-${process.arch}/`) && k.endsWith('.cache'))).toBe(true);
    expect(written.size).toBeGreaterThan(5);
    for (const name of written.keys()) {
      const head = await readFile(join(home, BASE, name));
      expect(head.readUInt32LE(0)).toBe(0x32636c70);
    }
  });

  it('the next runs use the entries and write none again, also across a V8 flag set while modules load', async () => {
    const home = await cacheHome();
    expect((await validate(home)).code).toBe(0);
    expect((await apply(home)).code).toBe(1); // its source does not exist: the flag was set all the same
    const first = await entries(home);
    expect(first.size).toBeGreaterThan(20); // the chunks of both commands, those compiled after the flag twice
    // Refused entries would be written again (a new file renamed over the old one: another inode).
    expect((await validate(home)).code).toBe(0);
    expect((await apply(home)).stderr).toMatch(/cc\/none:v1/);
    expect(await entries(home)).toEqual(first);
  });

  it('an entry made for other text of the same length is not used', async () => {
    // A copy of the package whose validate chunk then changes by one word of the same length: V8 checks only a
    // source's length, so without the entry's own copy of the text it would run the code it cached for the old text.
    const pkg = await cacheHome();
    await cp(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    await symlink(join(ROOT, 'schemas'), join(pkg, 'schemas'));
    await symlink(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    const home = await cacheHome();
    const bin = join(pkg, 'dist', 'cli', 'main.js');
    expect((await validate(home, bin)).stdout.toString()).toBe('1 spec valid\n');
    const chunks = join(pkg, 'dist', 'cli', 'chunks');
    const [chunk] = (await readdir(chunks)).filter((f) => f.startsWith('validate-') && f.endsWith('.js'));
    const text = await readFile(join(chunks, chunk!), 'utf8');
    expect(text).toContain(' valid\n');
    await writeFile(join(chunks, chunk!), text.replace(' valid\n', ' VALID\n'));
    expect((await validate(home, bin)).stdout.toString()).toBe('1 spec VALID\n');
  });

  it('an entry under another module\'s name is not used (its key is checked, not only its file name)', async () => {
    // File names are a 32-bit hash of the key; were two keys to clash, each module would find the other's entry.
    const home = await cacheHome();
    expect((await validate(home)).code).toBe(0);
    const before = await entries(home);
    const bySize = await Promise.all([...before.keys()].map(async (k) => ({ k, size: (await stat(join(home, BASE, k))).size })));
    const [a, b] = bySize.sort((x, y) => y.size - x.size).map((e) => join(home, BASE, e.k));
    const [textA, textB] = [await readFile(a!), await readFile(b!)];
    await writeFile(a!, textB);
    await writeFile(b!, textA);
    const run = await validate(home);
    expect(run.stderr).toBe('');
    expect(run.stdout.toString()).toBe('1 spec valid\n');
    const after = await entries(home);
    const rewritten = [...after].filter(([k, ino]) => before.get(k) !== ino).map(([k]) => join(home, BASE, k));
    expect(rewritten.sort()).toEqual([a!, b!].sort());
    // Each is its own module's entry again: the same key and source (V8's data may differ from run to run).
    const head = (entry: Buffer) => entry.subarray(0, 12 + entry.readUInt32LE(4) + entry.readUInt32LE(8));
    expect(head(await readFile(a!)).equals(head(textA))).toBe(true);
  });

  it('a run that writes entries removes the dead ones: another format\'s, a gone module\'s, a crashed run\'s temp', async () => {
    const home = await cacheHome();
    const dir = join(home, BASE, `${process.version}-${process.arch}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(join(home, BASE), 0o700);
    const old = join(dir, '0badf00d.cache');
    const gone = join(dir, entryName('/nowhere/chunk.js\0'));
    const staleTemp = join(dir, '0badf00d.cache.4242.tmp');
    const freshTemp = join(dir, '0badf00d.cache.4343.tmp');
    const other = join(dir, 'README');
    const oldFormat = Buffer.alloc(64);
    oldFormat.writeUInt32LE(0x706c6363, 0);
    await writeFile(old, oldFormat);
    await writeFile(gone, Buffer.concat([entryHead(Buffer.from('/nowhere/chunk.js\0'), Buffer.from('exports.x = 1;\n')), Buffer.from([1])]));
    await writeFile(staleTemp, 'half an entry');
    await writeFile(freshTemp, 'another run is writing this one');
    await writeFile(other, 'not ours to judge');
    const hourAndMore = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(staleTemp, hourAndMore, hourAndMore);
    expect((await validate(home)).code).toBe(0);
    const left = await readdir(dir);
    for (const dead of [old, gone, staleTemp]) expect(left).not.toContain(dead.slice(dir.length + 1));
    for (const kept of [freshTemp, other]) expect(left).toContain(kept.slice(dir.length + 1));
    expect(left.filter((n) => n.endsWith('.cache')).length).toBeGreaterThan(5); // this run's own
    // A run that only reads entries does not look at the others.
    await writeFile(old, oldFormat);
    expect((await validate(home)).code).toBe(0);
    expect(await readdir(dir)).toContain('0badf00d.cache');
  });

  it('no cache directory, or one that cannot be written, is no cache: the run goes on', async () => {
    const home = await cacheHome();
    await writeFile(join(home, BASE), 'a file where the cache directory would be\n');
    const run = await validate(home);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const off = await cacheHome();
    expect((await runPlait(['validate', join(ROOT, 'examples/web.yaml')], { env: { TMPDIR: off, NODE_DISABLE_COMPILE_CACHE: '1' } })).code).toBe(0);
    expect((await entries(off)).size).toBe(0);
  });

  it('a cache directory that others can write is neither read nor written', async () => {
    const home = await cacheHome();
    await mkdir(join(home, BASE), { mode: 0o777 });
    await chmod(join(home, BASE), 0o777); // past the umask
    expect((await validate(home)).code).toBe(0);
    expect((await entries(home)).size).toBe(0);
    // Once it is the user's own, the next run writes there.
    await chmod(join(home, BASE), 0o700);
    expect((await validate(home)).code).toBe(0);
    expect((await entries(home)).size).toBeGreaterThan(5);
  });

  it('NODE_COMPILE_CACHE names the directory, as it does for Node\'s own cache', async () => {
    const home = await cacheHome();
    const chosen = await cacheHome();
    expect((await runPlait(['validate', join(ROOT, 'examples/web.yaml')], { env: { TMPDIR: home, NODE_COMPILE_CACHE: chosen } })).code).toBe(0);
    expect((await entries(home)).size).toBe(0);
    expect((await readdir(join(chosen, `${process.version}-${process.arch}`))).length).toBeGreaterThan(5);
  });

  it('a module that may import() is compiled by Node: openpgp, loaded by import(), works from a cached run', async () => {
    const home = await cacheHome();
    for (let run = 0; run < 2; run++) {
      const result = await gpgKeyRead(home);
      // openpgp itself read the key file and refused it: the import() before it worked.
      expect(result.stderr).toMatch(/bad\.asc: not an OpenPGP private key \(/);
      expect(result.code).toBe(1);
    }
  });
});

describe.skipIf(!NODE_HAS_ITS_OWN)('Node ≥ 22.1: Node\'s own compile cache is on beside plait\'s', () => {
  it('it holds what plait leaves to Node (ES modules, and the module that import()s them), plait\'s holds the rest', async () => {
    const home = await cacheHome();
    expect((await gpgKeyRead(home)).stderr).toMatch(/not an OpenPGP private key/);
    expect((await entries(home)).size).toBeGreaterThan(5);
    const runtimes = await readdir(join(home, 'node-compile-cache')); // Node's, one directory per runtime
    expect(runtimes.length).toBe(1);
    expect((await readdir(join(home, 'node-compile-cache', runtimes[0]!))).length).toBeGreaterThan(0);
  });
});

describe('an entry is used only for its own key and text', () => {
  const key = Buffer.from('/x/dist/cli/chunks/a.js\0');
  const source = Buffer.from('exports.a = "é — 1";\n');
  const data = Buffer.from([1, 2, 3, 4]);
  const entry = Buffer.concat([entryHead(key, source), data]);

  it('gives back the cached data for the same key and text', () => {
    expect(cachedDataOf(entry, key, source)).toEqual(data);
  });

  it('refuses another text of the same length, another key, a cut entry and another format', () => {
    expect(cachedDataOf(entry, key, Buffer.from('exports.a = "é — 2";\n'))).toBeUndefined();
    expect(cachedDataOf(entry, Buffer.from('/x/dist/cli/chunks/b.js\0'), source)).toBeUndefined();
    expect(cachedDataOf(entry, Buffer.from('/x/dist/cli/chunks/a.js\0--expose-gc'), source)).toBeUndefined();
    expect(cachedDataOf(entry.subarray(0, entry.length - data.length), key, source)).toBeUndefined();
    const other = Buffer.from(entry);
    other.writeUInt32LE(0x706c6363, 0); // the first format's magic
    expect(cachedDataOf(other, key, source)).toBeUndefined();
  });

  it('names entries by a hash of the key: the same key, the same name', () => {
    expect(entryName('/a\0')).toBe(entryName('/a\0'));
    expect(entryName('/a\0')).not.toBe(entryName('/b\0'));
    expect(entryName('/a\0')).toMatch(/^[0-9a-f]{8}\.cache$/);
  });
});
