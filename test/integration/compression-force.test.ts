import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyImage } from '../../src/core/copy/copy.js';
import { parseManifest, parseManifestList } from '../../src/oci/manifest.js';
import { ANNOTATION_ZSTD_INSTANCE } from '../../src/oci/mediatype.js';
import { closeAllClients, openImage } from '../../src/transports/index.js';
import { runPlait } from '../helpers/cli.js';

// What compression.variants / compression.force (and podman's --add-compression / --compression-format /
// --force-compression) put in the pushed index, checked on the media type of every layer of every instance the
// registry then serves: the spec path (`plait apply`) and the flag path (`plait manifest push`) must give the same.

const lab = inject('lab');
const peers = inject('peers');
const R = lab.plain.host;
const plain = { plainHttp: true };
const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const dirs: string[] = [];

afterAll(async () => {
  await closeAllClients();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Pushed {
  digest: string;
  arch: string;
  zstdMark: boolean;
  layers: string[];
}

/** Every instance of the index at `ref`, in list order, with its platform, zstd mark and layer media types. */
async function pushedAt(ref: string): Promise<Pushed[]> {
  const img = openImage(`docker://${ref}`, plain);
  const top = await img.getManifest();
  const { index } = parseManifestList(top.bytes, top.mediaType);
  const out: Pushed[] = [];
  for (const d of index.manifests ?? []) {
    const m = await img.getManifest(d.digest);
    const p = parseManifest(m.bytes, m.mediaType);
    if (p.kind !== 'image') throw new Error(`${d.digest} is not an image`);
    out.push({
      digest: d.digest, arch: `${d.platform?.architecture ?? ''}${d.platform?.variant ? `/${d.platform.variant}` : ''}`,
      zstdMark: d.annotations?.[ANNOTATION_ZSTD_INSTANCE] === 'true', layers: p.manifest.layers.map((l) => l.mediaType),
    });
  }
  return out;
}

const allOf = (p: Pushed, type: string) => p.layers.length > 0 && p.layers.every((l) => l === type);

let source: Pushed[] = [];
let srcRef = '';
let zstdSrcRef = '';

beforeAll(async () => {
  // A private gzip copy of the skopeo-made index: one OCI image per platform, every layer tar+gzip.
  srcRef = `${R}/force/src:gzip`;
  await copyImage(openImage(`docker://${peers.skopeoIndex.ref}`, plain), openImage(`docker://${srcRef}`, plain));
  source = await pushedAt(srcRef);
  expect(source.length).toBeGreaterThan(1);
  for (const s of source) expect(allOf(s, GZIP)).toBe(true);
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'plait-force-'));
  dirs.push(d);
  return d;
}

async function ok(args: string[], env: NodeJS.ProcessEnv) {
  const r = await runPlait(args, { env });
  if (r.code !== 0) throw new Error(`plait ${args.join(' ')} → ${r.code}: ${r.stderr}`);
  return r;
}

/** Push `from` (a list reference) under `repo` with a spec carrying `compression`, the way a user applies one. */
async function viaSpec(name: string, from: string, compression: string): Promise<Pushed[]> {
  const dir = await tmp();
  const file = join(dir, 'spec.yaml');
  await writeFile(file, `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${name}
spec:
  destination:
    image: ${R}/force/${name}
    tags: [v1]
  sources:
    - image: ${from}
  compression: ${compression}
`);
  await ok(['apply', '--plain-http', file], { PLAIT_STORE: join(dir, 'store') });
  return pushedAt(`${R}/force/${name}:v1`);
}

/** The same with podman-style flags: manifest create, add --all, push. */
async function viaFlags(name: string, from: string, flags: string[]): Promise<Pushed[]> {
  const dir = await tmp();
  const env = { PLAIT_STORE: join(dir, 'store') };
  await ok(['manifest', 'create', name], env);
  await ok(['manifest', 'add', '--tls-verify=false', '--all', name, `docker://${from}`], env);
  await ok(['manifest', 'push', '--tls-verify=false', ...flags, name, `docker://${R}/force/${name}:v1`], env);
  return pushedAt(`${R}/force/${name}:v1`);
}

const archs = () => source.map((s) => s.arch);

function expectOriginalsPlusZstd(got: Pushed[]) {
  // The gzip originals, untouched and first (clients that ignore the mark keep pulling gzip), then one zstd
  // instance per platform, marked, every layer zstd.
  expect(got).toHaveLength(2 * source.length);
  expect(got.slice(0, source.length).map((p) => p.digest)).toEqual(source.map((s) => s.digest));
  for (const p of got.slice(0, source.length)) expect([p.zstdMark, allOf(p, GZIP)]).toEqual([false, true]);
  const z = got.slice(source.length);
  expect(z.map((p) => p.arch)).toEqual(archs());
  for (const p of z) expect([p.zstdMark, allOf(p, ZSTD)]).toEqual([true, true]);
}

function expectOnlyZstd(got: Pushed[]) {
  expect(got.map((p) => p.arch)).toEqual(archs());
  for (const p of got) expect([p.zstdMark, allOf(p, ZSTD)]).toEqual([true, true]);
}

describe('compression of every layer pushed', () => {
  it('variants [zstd] without force: the gzip originals plus a zstd instance per platform (spec and --add-compression)', async () => {
    expectOriginalsPlusZstd(await viaSpec('add-zstd', srcRef, '{variants: [zstd]}'));
    expectOriginalsPlusZstd(await viaFlags('add-zstd-flags', srcRef, ['--add-compression', 'zstd']));
  });

  it('variants [zstd] with force: only zstd instances, every layer zstd (spec, --compression-format alone as podman, and with --force-compression)', async () => {
    const spec = await viaSpec('force-zstd', srcRef, '{variants: [zstd], force: true}');
    expectOnlyZstd(spec);
    expectOnlyZstd(await viaFlags('force-zstd-flags', srcRef, ['--force-compression', '--compression-format', 'zstd']));
    // podman: --compression-format given on the command line implies --force-compression.
    const implied = await viaFlags('format-zstd-flags', srcRef, ['--compression-format', 'zstd']);
    expectOnlyZstd(implied);
    expect(implied.map((p) => p.digest)).toEqual(spec.map((p) => p.digest));
    zstdSrcRef = `${R}/force/force-zstd:v1`;
  });

  it('variants [zstd, gzip] with force: the regular instances in zstd, and the gzip instances are the originals (spec and flags)', async () => {
    for (const got of [
      await viaSpec('force-zstd-gzip', srcRef, '{variants: [zstd, gzip], force: true}'),
      await viaFlags('force-zstd-gzip-flags', srcRef, ['--compression-format', 'zstd', '--add-compression', 'gzip']),
    ]) {
      expectOriginalsPlusZstd(got);
    }
  });

  it('a zstd list forced to gzip: every layer gzip again, and no instance keeps the zstd mark (spec and flags)', async () => {
    expect(zstdSrcRef).not.toBe('');
    for (const got of [
      await viaSpec('force-gzip', zstdSrcRef, '{variants: [gzip], force: true}'),
      await viaFlags('force-gzip-flags', zstdSrcRef, ['--compression-format', 'gzip']),
    ]) {
      expect(got.map((p) => p.arch)).toEqual(archs());
      for (const p of got) expect([p.zstdMark, allOf(p, GZIP)]).toEqual([false, true]);
    }
  });

  it('a zstd list forced to gzip with a zstd variant: gzip regulars plus the zstd instances as they were (spec and flags)', async () => {
    const zstd = await pushedAt(zstdSrcRef);
    for (const got of [
      await viaSpec('force-gzip-zstd', zstdSrcRef, '{variants: [gzip, zstd], force: true}'),
      await viaFlags('force-gzip-zstd-flags', zstdSrcRef, ['--compression-format', 'gzip', '--add-compression', 'zstd']),
    ]) {
      expect(got).toHaveLength(2 * source.length);
      for (const p of got.slice(0, source.length)) expect([p.zstdMark, allOf(p, GZIP)]).toEqual([false, true]);
      expect(got.slice(source.length).map((p) => p.digest)).toEqual(zstd.map((p) => p.digest));
    }
  });
});
