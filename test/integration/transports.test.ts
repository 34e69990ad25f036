import { describe, it, expect, inject, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, writeFile, mkdir, chmod, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, LayoutImage, closeAllClients } from '../../src/transports/index.js';
import type { TransportOptions } from '../../src/transports/index.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { PlaitError } from '../../src/errors.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { run } from '../lab/proc.js';
import { startCorruptingProxy } from '../lab/corrupting-proxy.js';
import { runPlait } from '../helpers/cli.js';

const lab = inject('lab');
const peers = inject('peers');
const plain: TransportOptions = { plainHttp: true };
const tlsOpts: TransportOptions = { certDir: lab.certDir, creds: `${lab.tls.user.name}:${lab.tls.user.password}` };
const tokenOpts: TransportOptions = { plainHttp: true, creds: `${lab.token.pusher.name}:${lab.token.pusher.password}` };
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tmp = (p: string) => mkdtemp(join(tmpdir(), `plait-${p}-`));
const skopeoDigest = async (ref: string, ...flags: string[]) => sha(await run('skopeo', ['inspect', '--raw', ...flags, ref]));
const secrets = [lab.tls.user.password, lab.token.pusher.password, lab.token.puller.password];

afterAll(() => closeAllClients());

describe('registry ↔ layout', () => {
  const sources = [
    ['buildah OCI index (5 platforms, windows os.version)', peers.buildahList],
    ['buildah Docker list (v2s2)', peers.buildahListV2s2],
    ['skopeo OCI index', peers.skopeoIndex],
    ['single windows image', peers.singles.find((s) => s.platform === 'windows/amd64')!],
  ] as const;

  for (const [what, src] of sources) {
    it(`${what}: registry → oci: → registry keeps every digest`, async () => {
      const dir = await tmp('layout');
      const toLayout = await copyImage(openImage(`docker://${src.ref}`, plain), new LayoutImage(dir, 'x'));
      expect(toLayout.digest).toBe(src.digest);
      expect((await new LayoutImage(dir, 'x').resolve())?.digest).toBe(src.digest);
      const back = `${lab.plain.host}/roundtrip/${src.ref.split('/').pop()!.replace(':', '-')}:v1`;
      const toRegistry = await copyImage(new LayoutImage(dir, 'x'), openImage(`docker://${back}`, plain));
      expect(toRegistry.digest).toBe(src.digest);
      expect(await skopeoDigest(`docker://${back}`, '--tls-verify=false')).toBe(src.digest);
      const m = parseManifest((await new LayoutImage(dir, 'x').getManifest()).bytes);
      if (m.kind === 'index') {
        for (const child of m.index.manifests ?? []) {
          expect(await skopeoDigest(`docker://${back.replace(/:v1$/, '')}@${child.digest}`, '--tls-verify=false')).toBe(child.digest);
        }
      }
      await rm(dir, { recursive: true, force: true });
    });
  }

  it('skopeo reads the OCI layout plait wrote, and plait reads the one skopeo wrote', async () => {
    const dir = await tmp('layout');
    await copyImage(openImage(`docker://${peers.buildahList.ref}`, plain), new LayoutImage(dir, 'multi'));
    expect(await skopeoDigest(`oci:${dir}:multi`)).toBe(peers.buildahList.digest);
    const sdir = await tmp('skopeo-layout');
    await run('skopeo', [...peers.skopeoArgs, 'copy', '--all', '--src-tls-verify=false', `docker://${peers.skopeoIndex.ref}`, `oci:${sdir}:s`]);
    expect((await new LayoutImage(sdir, 's').resolve())?.digest).toBe(peers.skopeoIndex.digest);
    const back = await copyImage(new LayoutImage(sdir, 's'), new LayoutImage(dir, 'from-skopeo'));
    expect(back.digest).toBe(peers.skopeoIndex.digest);
  });

  it('pushes to the TLS + htpasswd and the token registries and reads back the same digests', async () => {
    const dir = await tmp('layout');
    await copyImage(openImage(`docker://${peers.buildahList.ref}`, plain), new LayoutImage(dir, 'x'));
    const tlsRef = `docker://${lab.tls.host}/lab/app:v1`;
    expect((await copyImage(new LayoutImage(dir, 'x'), openImage(tlsRef, tlsOpts))).digest).toBe(peers.buildahList.digest);
    expect(await skopeoDigest(tlsRef, '--cert-dir', lab.certDir, '--creds', tlsOpts.creds!)).toBe(peers.buildahList.digest);
    const tokRef = `docker://${lab.token.host}/lab/app:v1`;
    expect((await copyImage(openImage(tlsRef, tlsOpts), openImage(tokRef, tokenOpts))).digest).toBe(peers.buildahList.digest);
    expect(await skopeoDigest(tokRef, '--tls-verify=false', '--creds', tokenOpts.creds!)).toBe(peers.buildahList.digest);
    // A second copy finds every instance present: only existence checks and the tag write.
    const again = await copyImage(new LayoutImage(dir, 'x'), openImage(tokRef, tokenOpts));
    expect(again.bytesCopied).toBe(0);
  });

  it('a same-registry copy mounts blobs instead of moving bytes', async () => {
    const r = await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, plain), openImage(`docker://${lab.plain.host}/mounted/app:v1`, plain));
    expect(r.digest).toBe(peers.singles[0]!.digest);
    expect(r.bytesCopied).toBe(0);
  });
});

describe('digest verification', () => {
  it('a byte flipped by a proxy fails with E_DIGEST_MISMATCH and nothing is written', async () => {
    const single = peers.singles[1]!;
    const manifest = parseManifest(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${single.ref}`]));
    if (manifest.kind !== 'image') throw new Error('fixture is not an image');
    const layer = manifest.manifest.layers[0]!.digest;
    const proxy = await startCorruptingProxy(lab.plain.host, (method, path) => method === 'GET' && path.includes(`/blobs/${layer}`));
    try {
      const src = openImage(`docker://${proxy.host}/${single.ref.split('/').slice(1).join('/')}`, plain);
      const dir = await tmp('corrupt');
      const err = await copyImage(src, new LayoutImage(dir, 'x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlaitError);
      expect((err as PlaitError).code).toBe('E_DIGEST_MISMATCH');
      expect((err as PlaitError).message).toContain(layer);
      const blobs = await readdir(join(dir, 'blobs', 'sha256')).catch(() => [] as string[]);
      expect(blobs).not.toContain(layer.slice(7));
      expect(blobs.filter((b) => b.includes('tmp'))).toEqual([]);
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8').catch(() => '{"manifests":[]}')) as { manifests: unknown[] };
      expect(index.manifests).toEqual([]);

      const destRef = `docker://${lab.plain.host}/corrupt/target:v1`;
      const err2 = await copyImage(openImage(`docker://${proxy.host}/${single.ref.split('/').slice(1).join('/')}`, plain), openImage(destRef, plain)).catch((e: unknown) => e);
      expect((err2 as PlaitError).code).toBe('E_DIGEST_MISMATCH');
      const dest = openImage(destRef, plain);
      expect(await dest.resolve()).toBeUndefined();
      expect(await dest.hasBlob({ digest: layer, size: -1 })).toBe(false);
      expect(proxy.corrupted).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });
});

describe('plait inspect', () => {
  it('--raw prints exactly the bytes skopeo digests: buildah OCI index, Docker list, oci: layout', async () => {
    for (const p of [peers.buildahList, peers.buildahListV2s2, peers.skopeoIndex]) {
      const r = await runPlait(['inspect', '--raw', '--tls-verify=false', `docker://${p.ref}`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(sha(r.stdout)).toBe(await skopeoDigest(`docker://${p.ref}`, '--tls-verify=false'));
    }
    const dir = await tmp('inspect');
    await run('skopeo', [...peers.skopeoArgs, 'copy', '--all', '--src-tls-verify=false', `docker://${peers.skopeoIndex.ref}`, `oci:${dir}:idx`]);
    const r = await runPlait(['inspect', '--raw', `oci:${dir}:idx`]);
    expect(sha(r.stdout)).toBe(await skopeoDigest(`oci:${dir}:idx`));
    const cfg = await runPlait(['inspect', '--config', '--override-arch', 'arm', '--override-variant', 'v7', `oci:${dir}:idx`]);
    expect(JSON.parse(cfg.stdout.toString())).toMatchObject({ architecture: 'arm', os: 'linux', variant: 'v7' });
  });

  describe('credentials', () => {
    const outputs: string[] = [];
    const record = <R extends { stdout: Buffer; stderr: string }>(r: R): R => {
      outputs.push(r.stdout.toString('latin1'), r.stderr);
      return r;
    };
    const tlsRef = `docker://${lab.tls.host}/lab/creds:v1`;
    const isolated = async () => {
      const home = await tmp('home');
      return { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), DOCKER_CONFIG: join(home, '.docker'), REGISTRY_AUTH_FILE: '' };
    };

    it('setup: an image on the TLS registry', async () => {
      await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, plain), openImage(tlsRef, tlsOpts));
    });

    it('--creds, --authfile (namespace-scoped key), REGISTRY_AUTH_FILE', async () => {
      const env = await isolated();
      const ok = record(await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, '--creds', tlsOpts.creds!, tlsRef], { env }));
      expect(ok.code).toBe(0);
      const authfile = join(env.HOME, 'auth.json');
      const auth = Buffer.from(tlsOpts.creds!).toString('base64');
      await writeFile(authfile, JSON.stringify({ auths: { [`${lab.tls.host}/lab`]: { auth }, [`${lab.tls.host}/other`]: { auth: Buffer.from('x:y').toString('base64') } } }));
      expect(record(await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, '--authfile', authfile, tlsRef], { env })).code).toBe(0);
      expect(record(await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, tlsRef], { env: { ...env, REGISTRY_AUTH_FILE: authfile } })).code).toBe(0);
      // containers auth.json in the XDG place is found without any flag.
      await mkdir(join(env.XDG_CONFIG_HOME, 'containers'), { recursive: true });
      await writeFile(join(env.XDG_CONFIG_HOME, 'containers', 'auth.json'), JSON.stringify({ auths: { [lab.tls.host]: { auth } } }));
      expect(record(await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, tlsRef], { env })).code).toBe(0);
    });

    it('a docker credential helper found on PATH is used', async () => {
      const env = await isolated();
      const bin = join(env.HOME, 'bin');
      await mkdir(bin, { recursive: true });
      const calls = join(env.HOME, 'helper-calls');
      const helper = join(bin, 'docker-credential-plaitlab');
      await writeFile(helper, `#!/bin/sh\nread host\necho "$1 $host" >> ${calls}\nprintf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$host" ${JSON.stringify(lab.tls.user.name)} ${JSON.stringify(lab.tls.user.password)}\n`);
      await chmod(helper, 0o755);
      await mkdir(env.DOCKER_CONFIG, { recursive: true });
      await writeFile(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ credHelpers: { [lab.tls.host]: 'plaitlab' } }));
      const r = record(await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, tlsRef], { env: { ...env, PATH: `${bin}:${process.env.PATH ?? ''}` } }));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect((await readFile(calls, 'utf8')).trim()).toBe(`get ${lab.tls.host}`);
    });

    it('wrong password or none: one line naming the registry, exit 1', async () => {
      const env = await isolated();
      const wrong = record(await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, '--creds', `${lab.tls.user.name}:not-the-password`, tlsRef], { env }));
      expect(wrong.code).toBe(1);
      expect(wrong.stdout.length).toBe(0);
      expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
      expect(wrong.stderr).toContain(lab.tls.host);
      const none = record(await runPlait(['inspect', '--raw', '--cert-dir', lab.certDir, tlsRef], { env }));
      expect(none.code).toBe(1);
      expect(none.stderr).toContain(lab.tls.host);
      const noCa = record(await runPlait(['inspect', '--raw', '--creds', tlsOpts.creds!, tlsRef], { env }));
      expect(noCa.code).toBe(1);
      expect(noCa.stderr).toMatch(/TLS/);

      const tokRef = `docker://${lab.token.host}/lab/app:v1`;
      const tok = record(await runPlait(['inspect', '--raw', '--plain-http', '--creds', tokenOpts.creds!, tokRef], { env }));
      expect(tok.code).toBe(0);
      const tokWrong = record(await runPlait(['inspect', '--raw', '--plain-http', '--creds', `${lab.token.pusher.name}:nope`, tokRef], { env }));
      expect(tokWrong.code).toBe(1);
      expect(tokWrong.stderr.trim().split('\n')).toHaveLength(1);
      expect(tokWrong.stderr).toContain(lab.token.host);
      const anon = record(await runPlait(['inspect', '--raw', '--plain-http', tokRef], { env }));
      expect(anon.code).toBe(1);
      expect(anon.stderr).toContain(lab.token.host);
      // The puller may read but not write.
      const pullerOpts = { plainHttp: true, creds: `${lab.token.puller.name}:${lab.token.puller.password}` };
      expect((await openImage(tokRef, pullerOpts).resolve())?.digest).toMatch(/^sha256:/);
      const denied = await copyImage(openImage(tokRef, pullerOpts), openImage(`docker://${lab.token.host}/lab/denied:v1`, pullerOpts)).catch((e: unknown) => e);
      expect((denied as PlaitError).code).toBe('E_REGISTRY_UNAUTHORIZED');
      expect(String((denied as Error).message)).not.toContain(lab.token.puller.password);
    });

    afterAll(() => {
      const all = outputs.join('\n');
      for (const s of secrets) expect(all).not.toContain(s);
      expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no JWT
      expect(all).not.toContain(Buffer.from(tlsOpts.creds!).toString('base64'));
    });
  });
});
