// The deterministic fixture generator (test/lab/fixtures): determinism, validity for the real skopeo and GNU tar,
// compressibility of the data kinds, and bounded memory. Needs /usr/bin/skopeo and tar, no registry.

import { createCipheriv, createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs, parseSize } from '../lab/fixtures/cli.js';
import {
  FIXED_CREATED,
  MEDIA_TYPES,
  REF_NAME_ANNOTATION,
  generateLayout,
  tarSizeFor,
  ustarHeader,
} from '../lab/fixtures/generate.js';
import type { GenerateOptions, GenerateResult, ImageSpec } from '../lab/fixtures/generate.js';
import { skopeoCopy, skopeoInspect, skopeoInspectRaw } from '../lab/fixtures/skopeo.js';

const execFileP = promisify(execFile);
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KiB = 1024;
const MiB = 1024 * 1024;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'plait-fixtures-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirCounter = 0;
function freshDir(): string {
  return join(root, `layout-${++dirCounter}`);
}

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARMV7 = { os: 'linux', architecture: 'arm', variant: 'v7' };
const WIN = { os: 'windows', architecture: 'amd64', osVersion: '10.0.17763.5458' };

function images(layerSize = 8 * KiB): ImageSpec[] {
  return [
    { platform: AMD64, layers: 2, layerSize, data: 'random', labels: { 'made-by': 'plait-fixture', a: '1' } },
    { platform: ARMV7, layers: 1, layerSize, data: 'semi' },
    { platform: WIN, layers: 1, layerSize, data: 'zero' },
  ];
}

function allDigests(r: GenerateResult): string[] {
  const out: string[] = [];
  if (r.index) out.push(r.index.digest);
  for (const im of r.images) {
    out.push(im.manifest.digest, im.config.digest, ...im.layers.flatMap((l) => [l.digest, l.diffId]));
  }
  return out;
}

async function blobFiles(dir: string): Promise<Map<string, Buffer>> {
  const m = new Map<string, Buffer>();
  for (const name of (await readdir(join(dir, 'blobs', 'sha256'))).sort()) {
    m.set(name, await readFile(join(dir, 'blobs', 'sha256', name)));
  }
  return m;
}

function blob(dir: string, digest: string): Promise<Buffer> {
  return readFile(join(dir, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

interface IndexJsonShape {
  schemaVersion: number;
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

async function readIndexJson(dir: string): Promise<IndexJsonShape> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as IndexJsonShape;
}

describe('generateLayout: determinism', () => {
  it('gives byte-identical layouts for the same arguments, single manifests and index', async () => {
    for (const index of [false, true]) {
      const opts = (dir: string): GenerateOptions => ({ dir, tag: 'det', images: images(), index, seed: 's1' });
      const [a, b] = [freshDir(), freshDir()];
      const ra = await generateLayout(opts(a));
      const rb = await generateLayout(opts(b));
      expect(allDigests(ra)).toEqual(allDigests(rb));
      expect(await blobFiles(a)).toEqual(await blobFiles(b));
      expect(await readFile(join(a, 'index.json'))).toEqual(await readFile(join(b, 'index.json')));
      expect(JSON.parse(await readFile(join(a, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
      // every digest names its file, and every file is named by its content's digest
      for (const [name, bytes] of await blobFiles(a)) expect(sha256(bytes)).toBe(`sha256:${name}`);
      expect((await readdir(a)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']); // no temp files left behind
    }
  });

  it('gives different blobs for a different seed (and the seed defaults to the tag)', async () => {
    const r1 = await generateLayout({ dir: freshDir(), tag: 'det', images: images(), seed: 's1' });
    const r2 = await generateLayout({ dir: freshDir(), tag: 'det', images: images(), seed: 's2' });
    const nonZero = (r: GenerateResult): string[] =>
      r.images.filter((_, i) => images()[i]?.data !== 'zero').flatMap((im) => [im.manifest.digest, ...im.layers.map((l) => l.diffId)]);
    const d1 = nonZero(r1);
    for (const d of nonZero(r2)) expect(d1).not.toContain(d);
    // zero data does not depend on the seed
    expect(r1.images[2]?.layers[0]?.digest).toBe(r2.images[2]?.layers[0]?.digest);

    const byTagA = await generateLayout({ dir: freshDir(), tag: 'tag-a', images: images().slice(0, 1) });
    const byTagB = await generateLayout({ dir: freshDir(), tag: 'tag-b', images: images().slice(0, 1) });
    const sameSeed = await generateLayout({ dir: freshDir(), tag: 'tag-b', seed: 'tag-a', images: images().slice(0, 1) });
    expect(byTagA.images[0]?.layers[0]?.digest).not.toBe(byTagB.images[0]?.layers[0]?.digest);
    expect(sameSeed.images[0]?.layers[0]?.digest).toBe(byTagA.images[0]?.layers[0]?.digest);
  });

  it('never shares a layer blob except for zero data of the same index and size', async () => {
    const r = await generateLayout({
      dir: freshDir(),
      tag: 'uniq',
      images: [
        { platform: AMD64, layers: 3, layerSize: 4 * KiB, data: 'random' },
        { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: 3, layerSize: 4 * KiB, data: 'random' },
        { platform: ARMV7, layers: 3, layerSize: 4 * KiB, data: 'semi' },
        { platform: WIN, layers: 2, layerSize: 4 * KiB, data: 'zero' },
        { platform: { os: 'linux', architecture: 's390x' }, layers: 2, layerSize: 4 * KiB, data: 'zero' },
      ],
    });
    const nonZero = r.images.slice(0, 3).flatMap((im) => im.layers.map((l) => l.digest));
    expect(new Set(nonZero).size).toBe(9);
    const [win, s390x] = [r.images[3], r.images[4]];
    expect(win?.layers.map((l) => l.digest)).toEqual(s390x?.layers.map((l) => l.digest));
    expect(win?.layers[0]?.digest).not.toBe(win?.layers[1]?.digest); // payload-0.bin vs payload-1.bin
  });

  it('rejects arguments that would silently share blobs or break the layout', async () => {
    const dir = freshDir();
    const base = { platform: AMD64, layers: 1, layerSize: 4 * KiB, data: 'random' as const };
    await expect(generateLayout({ dir, tag: 't', images: [base, { ...base, ref: 'other' }] })).rejects.toThrow(/share layer blobs/);
    await expect(generateLayout({ dir, tag: 't', images: [{ ...base, layerSize: 1000 }] })).rejects.toThrow(RangeError);
    await expect(generateLayout({ dir, tag: 't', images: [{ ...base, layerSize: 2 * 1024 * MiB }] })).rejects.toThrow(RangeError);
    await expect(generateLayout({ dir, tag: 't', images: [{ ...base, layers: 0 }] })).rejects.toThrow(RangeError);
    await expect(generateLayout({ dir, tag: 't', images: [base], gzipLevel: 10 })).rejects.toThrow(RangeError);
    await expect(generateLayout({ dir, tag: 'bad tag', images: [base] })).rejects.toThrow(/invalid tag/);
    await expect(generateLayout({ dir, tag: 't', index: true, images: [{ ...base, ref: 'x' }] })).rejects.toThrow(/index/);
  });

  it('appends new refs to an existing index.json and replaces refs of the same name', async () => {
    const dir = freshDir();
    const one = (seed: string, ref?: string): ImageSpec => ({
      platform: AMD64,
      layers: 1,
      layerSize: 2 * KiB,
      data: 'random',
      seed,
      ...(ref ? { ref } : {}),
    });
    const r1 = await generateLayout({ dir, tag: 'app', images: [one('a'), { ...one('b'), platform: ARMV7 }] });
    const r2 = await generateLayout({ dir, tag: 'app', images: [one('c', 'extra')] });
    const r3 = await generateLayout({ dir, tag: 'app', images: [one('d')] }); // replaces app-linux-amd64
    const r4 = await generateLayout({ dir, tag: 'list', index: true, images: [one('e')] });
    const idx = await readIndexJson(dir);
    const refs = idx.manifests.map((m) => [m.annotations?.[REF_NAME_ANNOTATION], m.digest]);
    expect(refs).toEqual([
      ['app-linux-amd64', r3.images[0]?.manifest.digest],
      ['app-linux-arm-v7', r1.images[1]?.manifest.digest],
      ['extra', r2.images[0]?.manifest.digest],
      ['list', r4.index?.digest],
    ]);
    expect(idx.manifests[3]?.mediaType).toBe(MEDIA_TYPES.index);
    expect(r1.images[0]?.manifest.digest).not.toBe(r3.images[0]?.manifest.digest);
  });

  it('pins the tar stream and the AES-256-CTR keying (independent of zlib)', async () => {
    const dir = freshDir();
    const r = await generateLayout({ dir, tag: 'pin', seed: 'pin', gzipLevel: -1, images: [{ platform: ARMV7, layers: 2, layerSize: 3000, data: 'random' }] });
    const layer = r.images[0]?.layers[1];
    expect(layer?.mediaType).toBe(MEDIA_TYPES.layerTar);
    expect(layer?.digest).toBe(layer?.diffId);
    const tar = await blob(dir, layer?.digest ?? '');
    expect(tar.length).toBe(tarSizeFor(3000));
    // the documented construction, recomputed here
    const key = createHash('sha256').update('pin|linux/arm/v7|1').digest();
    const payload = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(3000));
    const expected = Buffer.concat([ustarHeader('payload-1.bin', 3000), payload, Buffer.alloc(tarSizeFor(3000) - 512 - 3000)]);
    expect(tar.equals(expected)).toBe(true);
  });
});

describe('generateLayout: what skopeo and tar see', () => {
  let single: GenerateResult;
  let indexed: GenerateResult;
  let singleDir: string;
  let indexDir: string;
  beforeAll(async () => {
    singleDir = freshDir();
    indexDir = freshDir();
    single = await generateLayout({ dir: singleDir, tag: 'v1', images: images(64 * KiB) });
    indexed = await generateLayout({ dir: indexDir, tag: 'multi', index: true, images: images(64 * KiB) });
  });

  it('skopeo inspects every single-image ref with the right platform', async () => {
    const want = [
      { ref: 'v1-linux-amd64', os: 'linux', arch: 'amd64', variant: undefined, osVersion: undefined },
      { ref: 'v1-linux-arm-v7', os: 'linux', arch: 'arm', variant: 'v7', osVersion: undefined },
      { ref: 'v1-windows-amd64', os: 'windows', arch: 'amd64', variant: undefined, osVersion: '10.0.17763.5458' },
    ];
    for (const [i, w] of want.entries()) {
      const im = single.images[i];
      expect(im?.ref).toBe(w.ref);
      const ref = `oci:${singleDir}:${w.ref}`;
      const info = await skopeoInspect(ref);
      expect(info.Digest).toBe(im?.manifest.digest);
      expect([info.Os, info.Architecture]).toEqual([w.os, w.arch]);
      expect(info.Layers).toEqual(im?.layers.map((l) => l.digest));
      const raw = await skopeoInspectRaw(ref);
      expect(raw.equals(im?.manifest.bytes ?? Buffer.alloc(0))).toBe(true);
      const config = JSON.parse((await skopeoInspectRaw(ref, { config: true })).toString('utf8')) as Record<string, unknown>;
      expect(config.os).toBe(w.os);
      expect(config.architecture).toBe(w.arch);
      expect(config.variant).toBe(w.variant);
      expect(config['os.version']).toBe(w.osVersion);
      expect(config.created).toBe(FIXED_CREATED);
      expect(config.rootfs).toEqual({ type: 'layers', diff_ids: im?.layers.map((l) => l.diffId) });
      expect((config.history as unknown[]).length).toBe(im?.layers.length);
    }
    expect((await skopeoInspect(`oci:${singleDir}:v1-linux-amd64`)).Labels).toEqual({ a: '1', 'made-by': 'plait-fixture' });
  });

  it('skopeo reads the index layout, and picks each platform out of it', async () => {
    const raw = await skopeoInspectRaw(`oci:${indexDir}:multi`);
    expect(raw.equals(indexed.index?.bytes ?? Buffer.alloc(0))).toBe(true);
    expect(sha256(raw)).toBe(indexed.index?.digest);
    const doc = JSON.parse(raw.toString('utf8')) as { mediaType: string; manifests: { digest: string; platform: Record<string, unknown> }[] };
    expect(doc.mediaType).toBe(MEDIA_TYPES.index);
    expect(doc.manifests.map((m) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm', os: 'linux', variant: 'v7' },
      { architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763.5458' },
    ]);
    expect(doc.manifests.map((m) => m.digest)).toEqual(indexed.images.map((im) => im.manifest.digest));
    // the seed defaults to the tag, so the two layouts (tags v1 and multi) share no random/semi blobs
    expect(indexed.images[0]?.manifest.digest).not.toBe(single.images[0]?.manifest.digest);

    const arm = await skopeoInspectRaw(`oci:${indexDir}:multi`, { config: true, overrideArch: 'arm', overrideVariant: 'v7' });
    expect(JSON.parse(arm.toString('utf8'))).toMatchObject({ os: 'linux', architecture: 'arm', variant: 'v7' });
    const win = await skopeoInspect(`oci:${indexDir}:multi`, { overrideOs: 'windows', overrideArch: 'amd64' });
    expect(win.Digest).toBe(indexed.index?.digest); // skopeo reports the digest of what the ref names: the index
    expect(win.Os).toBe('windows');
    expect(win.Layers).toEqual(indexed.images[2]?.layers.map((l) => l.digest));
  });

  it('skopeo copies the whole index out of the layout without changing a digest', async () => {
    const dest = freshDir();
    const { digest } = await skopeoCopy(`oci:${indexDir}:multi`, `oci:${dest}:copied`, { all: true, preserveDigests: true });
    expect(digest).toBe(indexed.index?.digest);
    expect((await readIndexJson(dest)).manifests[0]?.digest).toBe(indexed.index?.digest);
    await expect(skopeoInspectRaw(`oci:${dest}:nope`)).rejects.toThrow(/skopeo inspect --raw oci:.*failed \(exit 1\):.*nope/s);
  });

  it('skopeo failures carry stderr but never the password of the credentials', async () => {
    const err = await skopeoCopy(`oci:${indexDir}:multi`, 'docker://127.0.0.1:1/x/y:z', {
      all: true,
      destTlsVerify: false,
      destCreds: 'user:s3cret-pw',
      retryTimes: 0,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toMatch(/--dest-creds user:\*\*\*/);
    expect(message).toMatch(/connection refused|connect/i);
    expect(message).not.toContain('s3cret-pw');
  });

  it('each gzip layer is a ustar tar whose sha256 is the diff_id, listed correctly by GNU tar', async () => {
    for (const im of single.images) {
      for (const [n, l] of im.layers.entries()) {
        expect(l.mediaType).toBe(MEDIA_TYPES.layerGzip);
        const gz = await blob(singleDir, l.digest);
        expect(gz.length).toBe(l.size);
        const tar = gunzipSync(gz);
        expect(sha256(tar)).toBe(l.diffId);
        expect(tar.length).toBe(l.tarSize);
        expect(tar.subarray(257, 263).toString('latin1')).toBe('ustar\0');
        const file = join(singleDir, 'blobs', 'sha256', l.digest.slice(7));
        const { stdout } = await execFileP('tar', ['-tvzf', file], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
        expect(stdout.trim()).toMatch(new RegExp(`^-rw-r--r-- root/root +${64 * KiB} 2024-01-01 00:00 payload-${n}\\.bin$`));
      }
    }
  });

  it('uncompressed layouts (gzip level -1) hold plain tars that GNU tar can list', async () => {
    const dir = freshDir();
    const r = await generateLayout({ dir, tag: 'plain', gzipLevel: -1, images: [{ platform: AMD64, layers: 1, layerSize: 5 * KiB + 7, data: 'semi' }] });
    const l = r.images[0]?.layers[0];
    expect(l?.mediaType).toBe(MEDIA_TYPES.layerTar);
    expect(l?.digest).toBe(l?.diffId);
    const file = join(dir, 'blobs', 'sha256', (l?.digest ?? '').slice(7));
    const { stdout } = await execFileP('tar', ['-tvf', file], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    expect(stdout.trim()).toMatch(new RegExp(`^-rw-r--r-- root/root +${5 * KiB + 7} 2024-01-01 00:00 payload-0\\.bin$`));
    const info = await skopeoInspect(`oci:${dir}:plain-linux-amd64`);
    expect(info.Layers).toEqual([l?.digest]);
  });
});

describe('generateLayout: data kinds', () => {
  it("'semi' compresses to about half with gzip, 'zero' to almost nothing, 'random' not at all", async () => {
    const size = 4 * MiB;
    const r = await generateLayout({
      dir: freshDir(),
      tag: 'ratio',
      images: (['random', 'semi', 'zero'] as const).map((data, i) => ({
        platform: { os: 'linux', architecture: ['amd64', 'arm64', 'riscv64'][i] ?? 'amd64' },
        layers: 1,
        layerSize: size,
        data,
      })),
    });
    const ratio = (i: number): number => (r.images[i]?.layers[0]?.size ?? 0) / size;
    expect(ratio(0)).toBeGreaterThan(0.999);
    expect(ratio(1)).toBeGreaterThan(0.45);
    expect(ratio(1)).toBeLessThan(0.55);
    expect(ratio(2)).toBeLessThan(0.01);
  });
});

describe('generateLayout: streaming', () => {
  // Measured in a child process (its own peak RSS, read at exit), not as an RSS delta inside the test worker: the
  // worker's RSS moves with the garbage collector and earlier tests, which made a delta test flaky on Node 24. The
  // property is "never the whole layer in memory": a 128 MiB layer must raise the peak by well under its size.
  const peakRss = async (args: string[]): Promise<number> => {
    const hook = 'data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss="+process.resourceUsage().maxRSS+"\\n"))';
    const { stderr } = await execFileP(process.execPath, ['--import', 'tsx', '--import', hook, join(REPO, 'test/lab/fixtures/cli.ts'), ...args], { cwd: REPO, maxBuffer: 16 * MiB });
    const m = /maxrss=(\d+)/.exec(stderr);
    if (!m) throw new Error(`no maxrss in child stderr: ${stderr}`);
    return Number(m[1]) * 1024;
  };

  it('generates a 128 MiB layer without holding it in memory', async () => {
    const dir = freshDir();
    const base = await peakRss(['--out', dir, '--tag', 'small', '--platform', 'linux/amd64', '--layer-size', '1M']);
    const big = await peakRss(['--out', dir, '--tag', 'big', '--platform', 'linux/amd64', '--layer-size', '128M']);
    const r = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: unknown[] };
    expect(r.manifests.length).toBe(2);
    expect(big - base).toBeLessThan(80 * MiB); // buffering the tar or its gzip would add ≥ 128 MiB
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
});

describe('cli', () => {
  it('parses sizes and flags', () => {
    expect(parseSize('1K')).toBe(1024);
    expect(parseSize('16M')).toBe(16 * MiB);
    expect(parseSize('1G')).toBe(1024 * MiB);
    expect(parseSize('512KiB')).toBe(512 * 1024);
    expect(parseSize('4096')).toBe(4096);
    expect(() => parseSize('1T')).toThrow(/bad size/);
    const o = parseCliArgs([
      '--out', 'x', '--tag', 't', '--platform', 'linux/arm/v7', '--platform', 'windows/amd64', '--os-version', '10.0.17763.5458',
      '--layers', '3', '--layer-size', '16K', '--data', 'semi', '--gzip-level', '-1', '--seed', 's', '--index', '--label', 'k=v=w',
    ]);
    expect(o).toMatchObject({ tag: 't', index: true, gzipLevel: -1, seed: 's' });
    expect(o.images).toEqual([
      { platform: ARMV7, layers: 3, layerSize: 16 * KiB, data: 'semi', labels: { k: 'v=w' } },
      { platform: WIN, layers: 3, layerSize: 16 * KiB, data: 'semi', labels: { k: 'v=w' } },
    ]);
    expect(() => parseCliArgs(['--out', 'x', '--tag', 't'])).toThrow(/--platform/);
    expect(() => parseCliArgs(['--out', 'x', '--tag', 't', '--os-version', '1'])).toThrow(/must follow a --platform/);
  });

  it('runs under tsx and prints the result as JSON', async () => {
    const dir = freshDir();
    const { stdout } = await execFileP('npx', ['tsx', 'test/lab/fixtures/cli.ts', '--out', dir, '--tag', 'cli', '--platform', 'linux/amd64', '--layer-size', '4K', '--index'], {
      cwd: REPO,
    });
    const printed = JSON.parse(stdout) as { index: { digest: string }; images: { layers: { diffId: string }[] }[] };
    const idx = await readIndexJson(dir);
    expect(idx.manifests[0]?.digest).toBe(printed.index.digest);
    expect(printed.images[0]?.layers[0]?.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
