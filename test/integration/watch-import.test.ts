import { describe, it, expect, inject } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLayout } from '../lab/fixtures/generate.js';
import { run } from '../lab/proc.js';
import { PLAIT_BIN, runPlait } from '../helpers/cli.js';

const lab = inject('lab');
const peers = inject('peers');

function spec(name: string, extra = '') {
  return `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${name}
spec:
  destination:
    image: oci:out
    tags: [v1]
  sources:
    - image: oci:../src:w-linux-amd64
    - image: oci:../src:w-linux-arm64-v8
${extra}`;
}

/** Collects a child's stderr lines and lets a test wait for one. */
function lines(child: ReturnType<typeof spawn>) {
  const seen: string[] = [];
  let buf = '';
  const waiters: Array<{ re: RegExp; from: number; resolve: (l: string) => void }> = [];
  child.stderr!.on('data', (c: Buffer) => {
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      seen.push(l);
      for (const w of [...waiters]) {
        if (seen.length - 1 >= w.from && w.re.test(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  return {
    seen,
    next(re: RegExp, timeoutMs = 20_000): Promise<string> {
      const from = seen.length;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${String(re)}; saw:\n${seen.join('\n')}`)), timeoutMs);
        waiters.push({ re, from, resolve: (l) => { clearTimeout(t); resolve(l); } });
      });
    },
  };
}

describe('plait watch', () => {
  it('reconciles at start and on every edit, keeps the last good spec on a bad edit, stops cleanly on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-watch-'));
    await generateLayout({
      dir: join(dir, 'src'), tag: 'w', seed: 'watch',
      images: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: 1, layerSize: 1024, data: 'random' },
        { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: 1, layerSize: 1024, data: 'random' }],
    });
    const file = join(dir, 'specs', 'w.yaml');
    await run('mkdir', ['-p', join(dir, 'specs')]);
    await writeFile(file, spec('watched'));
    const child = spawn(process.execPath, [PLAIT_BIN, 'watch', '--store', join(dir, 'store'), '--debounce', '100', join(dir, 'specs')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const out = lines(child);
    try {
      await out.next(/^watched: pushed sha256:/);
      // Relative oci: paths resolve against the spec's folder.
      const first = await run('skopeo', ['inspect', '--raw', `oci:${join(dir, 'specs', 'out')}:v1`]);
      expect(JSON.parse(first)).toMatchObject({ manifests: [{ platform: { architecture: 'amd64' } }, { platform: { architecture: 'arm64' } }] });

      await writeFile(file, spec('watched', '  annotations: {org.example.rev: "2"}\n'));
      await out.next(/^watched: pushed sha256:/);
      expect(JSON.parse(await run('skopeo', ['inspect', '--raw', `oci:${join(dir, 'specs', 'out')}:v1`]))).toMatchObject({ annotations: { 'org.example.rev': '2' } });

      await writeFile(file, spec('watched', '  format: zip\n'));
      const problem = await out.next(/w\.yaml:\d+:\d+: spec\.format/);
      expect(problem).toContain('must be one of');
      // Still watching: a good edit is picked up again.
      await writeFile(file, spec('watched', '  annotations: {org.example.rev: "3"}\n'));
      await out.next(/^watched: pushed sha256:/);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(out.seen.join('\n')).toMatch(/stopped$/);
    const plan = await runPlait(['plan', '--exit-code', '--store', join(dir, 'store'), join(dir, 'specs')]);
    expect(plan.code).toBe(0);
  });
});

describe('plait import manifest-tool', () => {
  it('turns manifest-tool specs into ManifestLists that validate and, applied, give the same platforms', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-import-'));
    const R = lab.plain.host;
    const byPlatform = (p: string) => peers.singles.find((s) => s.platform === p)!.ref;
    // The shape of manifest-tool's documented `push from-spec` input: a target, extra tags, per-entry platforms
    // (lower-case osversion), one entry without a platform (read from the image).
    const mt = `image: ${R}/imported/app:1.0.0
tags: ['1.0', 'latest']
manifests:
  - image: ${byPlatform('linux/amd64')}
    platform:
      architecture: amd64
      os: linux
  - image: ${byPlatform('linux/arm64/v8')}
    platform:
      architecture: arm64
      os: linux
      variant: v8
  - image: ${byPlatform('linux/arm/v7')}
  - image: ${byPlatform('windows/amd64')}
    platform:
      architecture: amd64
      os: windows
      osversion: "10.0.17763.5458"
`;
    await writeFile(join(dir, 'mt.yaml'), mt);
    const imported = await runPlait(['import', 'manifest-tool', join(dir, 'mt.yaml')]);
    expect(imported.stderr).toBe('');
    const doc = imported.stdout.toString();
    expect(doc).toContain('format: docker');
    expect(doc).toContain('onConflict: error');
    await writeFile(join(dir, 'ml.yaml'), doc);
    expect((await runPlait(['validate', join(dir, 'ml.yaml')])).code).toBe(0);
    const applied = await runPlait(['apply', '--plain-http', '--store', join(dir, 'store'), join(dir, 'ml.yaml')]);
    expect(applied.code).toBe(0);
    for (const tag of ['1.0.0', '1.0', 'latest']) {
      const list = JSON.parse(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/imported/app:${tag}`])) as {
        mediaType: string; manifests: Array<{ platform: { os: string; architecture: string; variant?: string; 'os.version'?: string } }>;
      };
      expect(list.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
      expect(list.manifests.map((m) => [m.platform.os, m.platform.architecture, m.platform.variant ?? '', m.platform['os.version'] ?? ''].join('/'))).toEqual([
        'linux/amd64//', 'linux/arm64/v8/', 'linux/arm/v7/', 'windows/amd64//10.0.17763.5458',
      ]);
    }

    // Annotations make it an OCI index (manifest-tool needs --type oci for them); a list source is flattened.
    await writeFile(join(dir, 'mt2.yaml'), `image: ${R}/imported/base:2\nannotations: {org.opencontainers.image.vendor: plait}\nmanifests:\n  - image: ${peers.skopeoIndex.ref}\n`);
    const second = await runPlait(['import', 'manifest-tool', join(dir, 'mt2.yaml')]);
    await writeFile(join(dir, 'ml2.yaml'), second.stdout);
    expect((await runPlait(['apply', '--plain-http', '--store', join(dir, 'store'), join(dir, 'ml2.yaml')])).code).toBe(0);
    const idx = JSON.parse(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/imported/base:2`])) as { mediaType: string; manifests: unknown[]; annotations: Record<string, string> };
    expect(idx.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(idx.manifests).toHaveLength(4);
    expect(idx.annotations).toEqual({ 'org.opencontainers.image.vendor': 'plait' });

    const bad = await runPlait(['import', 'manifest-tool', join(dir, 'missing.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(await readFile(join(dir, 'mt.yaml'), 'utf8')).toBe(mt);
  });
});
