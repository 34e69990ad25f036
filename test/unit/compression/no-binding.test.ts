import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION_ZSTD_INSTANCE, OCI_INDEX } from '../../../src/oci/mediatype.js';
import { runPlait } from '../../helpers/cli.js';
import { generateLayout } from '../../lab/fixtures/generate.js';

// An install whose zstd binding was never built: what npm 12 leaves when nothing allows zstd-napi's install script,
// or what a failed native build leaves. A copy of the built CLI beside node_modules that are the project's own,
// except zstd-napi, copied without its build/. What encodes or decodes zstd then fails with one line that says how to
// mend the install, and what needs no zstd (a gzip variant of a gzip image here) still works.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let dir: string;
let bin: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-no-zstd-'));
  const pkg = join(dir, 'pkg');
  await mkdir(join(pkg, 'node_modules'), { recursive: true });
  await cp(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  await symlink(join(ROOT, 'schemas'), join(pkg, 'schemas'));
  for (const name of await readdir(join(ROOT, 'node_modules'))) {
    if (name !== 'zstd-napi') await symlink(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name));
  }
  await cp(join(ROOT, 'node_modules', 'zstd-napi'), join(pkg, 'node_modules', 'zstd-napi'), {
    recursive: true,
    filter: (src) => !src.startsWith(join(ROOT, 'node_modules', 'zstd-napi', 'build')),
  });
  bin = join(pkg, 'dist', 'cli', 'main.js');
  await generateLayout({
    dir: join(dir, 'src'), tag: 'app',
    images: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: 1, layerSize: 4096, data: 'random' }],
  });
  // The same image with a zstd layer (written by skopeo), as the one entry of a list that marks it zstd: a gzip
  // variant is then made for its platform, from bytes only the zstd decoder can read.
  await promisify(execFile)('skopeo', ['copy', '--quiet', '--dest-compress-format', 'zstd', `oci:${dir}/src:app-linux-amd64`, `oci:${dir}/zsrc:app`]);
  await zstdList(join(dir, 'zsrc'));
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Adds `list` to the layout: an OCI index of its one image, annotated as a zstd instance. */
async function zstdList(layout: string): Promise<void> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Record<string, unknown>[] };
  const { mediaType, digest, size } = index.manifests[0] as { mediaType: string; digest: string; size: number };
  const list = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_INDEX,
    manifests: [{ mediaType, digest, size, platform: { os: 'linux', architecture: 'amd64' }, annotations: { [ANNOTATION_ZSTD_INSTANCE]: 'true' } }],
  }));
  const hex = createHash('sha256').update(list).digest('hex');
  await writeFile(join(layout, 'blobs', 'sha256', hex), list);
  index.manifests.push({ mediaType: OCI_INDEX, digest: `sha256:${hex}`, size: list.length, annotations: { 'org.opencontainers.image.ref.name': 'list' } });
  await writeFile(join(layout, 'index.json'), JSON.stringify(index));
}

async function spec(name: string, variant: string, source = `oci:${dir}/src:app-linux-amd64`): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, [
    'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', `metadata: {name: ${name}}`, 'spec:',
    `  destination: {image: "oci:${dir}/${name}", tags: [v1]}`,
    `  sources: [{image: "${source}"}]`,
    `  compression: {variants: [${variant}]}`, '',
  ].join('\n'));
  return file;
}

describe('without the zstd binding', () => {
  it('a zstd variant fails with one line naming the missing binding and the fix', async () => {
    const env = { PLAIT_STORE: join(dir, 'store-zstd') };
    const r = await runPlait(['apply', await spec('zstd', 'zstd')], { bin, env });
    expect(r.code).toBe(1);
    const out = r.stdout.toString() + r.stderr;
    expect(out).toMatch(/zstd needs zstd-napi's native binding, which did not load \(Cannot find module [^\n]*\); reinstall plait with zstd-napi's install script allowed \(npm install -g --allow-scripts=zstd-napi/);
    expect(out).not.toMatch(/Require stack|\n\s+at /);
  });

  it('so does a gzip variant made from a zstd layer, which must be decoded', async () => {
    const env = { PLAIT_STORE: join(dir, 'store-unzstd') };
    const r = await runPlait(['apply', await spec('unzstd', 'gzip', `oci:${dir}/zsrc:list`)], { bin, env });
    expect(r.code).toBe(1);
    const out = r.stdout.toString() + r.stderr;
    expect(out).toMatch(/zstd needs zstd-napi's native binding, which did not load/);
    expect(out).not.toMatch(/Require stack|\n\s+at /);
  });

  it('a gzip variant, which needs no zstd, is made', async () => {
    const env = { PLAIT_STORE: join(dir, 'store-gzip') };
    const r = await runPlait(['apply', await spec('gzip', 'gzip')], { bin, env });
    expect(r.stderr).toMatch(/1 spec: 1 pushed/);
    expect(r.code).toBe(0);
  });
});
