import { describe, it, expect, beforeAll, inject } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { run } from '../lab/proc.js';
import { runPlait } from '../helpers/cli.js';

// `npm run image` (its script; dist/ is built by npm test first) assembles the controller image with buildah into
// an OCI layout, then plait publishes it with itself: .ci/image-spec.yaml, pointed at the lab's plain registry.
// Slow (about a minute warm, a few more the first time zstd-napi is compiled for Node 24), so a file of its own.

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string; license: string };
const REF = `${pkg.version}-linux-amd64`;
const layout = join(root, '.build', 'image', 'oci');
const rootfs = join(root, '.build', 'image', 'rootfs');

interface ImageConfig { architecture: string; os: string; config: { User: string; Entrypoint: string[]; Cmd: string[]; Env: string[]; Labels: Record<string, string> } }

/** A command in the image's root filesystem as its user, with nothing from the host environment. */
const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((p) => existsSync(p)) ?? 'chroot';
const inRootfs = (...args: string[]) =>
  run(CHROOT, ['--userspec=65532:65532', rootfs, ...args], { env: { PATH: '/usr/local/bin:/usr/bin', HOME: '/home/nonroot' } });

let buildLog = '';
beforeAll(async () => {
  buildLog = await run('bash', [join(root, '.ci', 'build-image.sh')], { cwd: root });
}, 600_000);

describe('the controller image', () => {
  it('is an OCI image for linux/amd64 with user 65532, entrypoint plait and the OCI labels', async () => {
    expect(buildLog).toContain(`image: oci:.build/image/oci:${REF}`);
    const cfg = JSON.parse(await run('skopeo', ['inspect', '--config', `oci:${layout}:${REF}`])) as ImageConfig;
    expect([cfg.os, cfg.architecture]).toEqual(['linux', 'amd64']);
    expect(cfg.config.User).toBe('65532:65532');
    expect(cfg.config.Entrypoint).toEqual(['plait']);
    expect(cfg.config.Cmd).toEqual(['controller']);
    const labels = cfg.config.Labels;
    expect(labels['org.opencontainers.image.title']).toBe('plait');
    expect(labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(labels['org.opencontainers.image.licenses']).toBe(pkg.license);
    expect(labels['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}$|^unknown$/);
    expect(labels['org.opencontainers.image.source']).toBeTruthy();
    const manifest = JSON.parse(await run('skopeo', ['inspect', '--raw', `oci:${layout}:${REF}`])) as { mediaType: string; layers: unknown[] };
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.layers).toHaveLength(1);
  });

  it('its root filesystem runs plait as uid 65532 on Node 24, with nothing from the host', async () => {
    expect((await inRootfs('plait', '--version')).trim()).toBe(`plait version ${pkg.version}`);
    expect(await inRootfs('plait', 'controller', '--help')).toMatch(/^Usage: plait controller/);
    expect((await inRootfs('node', '--version')).trim()).toMatch(/^v24\./);
    expect((await inRootfs('node', '-p', 'process.getuid() + ":" + process.getgid()')).trim()).toBe('65532:65532');
    // zstd-napi, the native module, loads and round-trips in the image's Node.
    expect((await inRootfs('node', '-e', 'const z=require("/opt/plait/node_modules/zstd-napi");process.stdout.write(z.decompress(z.compress(Buffer.from("plait"))).toString())'))).toBe('plait');
    // The user can write only where the Deployment mounts emptyDirs; the image's own files are root's.
    expect((await stat(join(rootfs, 'home', 'nonroot'))).uid).toBe(65532);
    expect((await stat(join(rootfs, 'opt', 'plait', 'dist', 'cli', 'main.js'))).uid).toBe(0);
    await expect(inRootfs('node', '-e', 'require("fs").writeFileSync("/opt/plait/x", "")')).rejects.toThrow(/EACCES/);
  });

  it('plait publishes it with itself, and skopeo reads the list back', async () => {
    const lab = inject('lab');
    const spec = parse(await readFile(join(root, '.ci', 'image-spec.yaml'), 'utf8')) as { spec: { destination: { image: string; tags: string[] } } };
    expect(spec.spec.destination.tags).toContain(pkg.version);
    const repo = `${lab.plain.host}/plait/plait`;
    spec.spec.destination.image = repo;
    const store = await mkdtemp(join(tmpdir(), 'plait-image-store-'));
    try {
      // From stdin, relative oci: paths are taken from the working directory: the spec's own folder.
      const r = await runPlait(['apply', '--plain-http', '--store', store, '-'], { cwd: join(root, '.ci'), input: stringify(spec) });
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
    } finally {
      await rm(store, { recursive: true, force: true });
    }
    const index = JSON.parse(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${repo}:${pkg.version}`])) as
      { mediaType: string; manifests: Array<{ digest: string; platform: { os: string; architecture: string } }> };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(['linux/amd64']);
    const local = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(index.manifests[0]!.digest).toBe(local.manifests[0]!.digest);
    const pushed = JSON.parse(await run('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${repo}@${index.manifests[0]!.digest}`])) as ImageConfig;
    expect(pushed.config.Labels['org.opencontainers.image.version']).toBe(pkg.version);
  });
});
