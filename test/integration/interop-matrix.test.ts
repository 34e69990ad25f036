import { describe, it, expect, inject, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../lab/proc.js';
import { requireGoPart } from '../lab/registry.js';
import { runPlait } from '../helpers/cli.js';

// The peer matrix, against both lab registries (distribution 2.8 and v3): lists made by crane, regctl, oras and
// manifest-tool (and, on the 2.8 registry where the shared fixtures live, buildah and skopeo) are read by
// `plait inspect` and used as sources, whole and as a platform subset; every list plait pushes — OCI, Docker,
// OCI with zstd variants, signed — is read and copied by each peer; digests agree everywhere.

const lab = inject('lab');
const peers = inject('peers');
const T = '--tls-verify=false';
const PASS = 'matrix passphrase';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const bins = { crane: requireGoPart('crane'), regctl: requireGoPart('regctl'), oras: requireGoPart('oras'), mt: requireGoPart('manifest-tool'), cosign: requireGoPart('cosign') };
let dir = '';
let home = '';
const env = () => ({ ...process.env, HOME: home, COSIGN_PASSWORD: PASS, DOCKER_CONFIG: join(home, '.docker') });
const crane = (...a: string[]) => run(bins.crane, a, { env: env() });
const regctl = (...a: string[]) => run(bins.regctl, a, { env: env() });
const oras = (...a: string[]) => run(bins.oras, a, { env: env(), cwd: dir });
const mt = (...a: string[]) => run(bins.mt, ['--plain-http', ...a], { env: env() });

async function plait(e: NodeJS.ProcessEnv, ...args: string[]) {
  const r = await runPlait(args, { env: e });
  if (r.code !== 0) throw new Error(`plait ${args.join(' ')} → ${r.code}: ${r.stderr}`);
  return r;
}

interface Index { mediaType?: string; manifests: Array<{ digest: string; platform?: { os: string; architecture: string; variant?: string } }> }

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-matrix-'));
  home = join(dir, 'home');
  await mkdir(home, { recursive: true });
  await writeFile(join(dir, 'pass'), `${PASS}\n`);
  await plait({}, 'key', 'generate', '--prefix', join(dir, 'plait'), '--passphrase-file', join(dir, 'pass'));
  for (const r of [lab.plain.host, lab.v3.host]) await regctl('registry', 'set', '--tls', 'disabled', r);
});

const amd64 = () => peers.singles.find((s) => s.platform === 'linux/amd64')!;
const arm64 = () => peers.singles.find((s) => s.platform === 'linux/arm64/v8')!;

for (const which of ['plain', 'v3'] as const) {
  describe(`peer matrix on ${which === 'plain' ? 'distribution 2.8' : 'distribution v3'}`, () => {
    const R = () => lab[which].host;
    const pe = () => ({ PLAIT_STORE: join(dir, `store-${which}`) });

    it('plait reads the lists crane, regctl, oras, manifest-tool (and buildah, skopeo) make, and uses them as sources: all, and a platform subset', async () => {
      await crane('copy', '--insecure', amd64().ref, `${R()}/mx/img:amd64`);
      await crane('copy', '--insecure', arm64().ref, `${R()}/mx/img:arm64`);
      const made: Record<string, string> = {};
      await crane('index', 'append', '--insecure', '-m', `${R()}/mx/img:amd64`, '-m', `${R()}/mx/img:arm64`, '-t', `${R()}/mx/crane:v1`);
      made.crane = `${R()}/mx/crane:v1`;
      await regctl('index', 'create', `${R()}/mx/regctl:v1`, '--ref', `${R()}/mx/img:amd64`, '--ref', `${R()}/mx/img:arm64`);
      made.regctl = `${R()}/mx/regctl:v1`;
      await oras('manifest', 'index', 'create', '--plain-http', `${R()}/mx/img:oras`, 'amd64', 'arm64');
      made.oras = `${R()}/mx/img:oras`;
      const mtSpec = join(dir, `mt-${which}.yaml`);
      await writeFile(mtSpec, [`image: ${R()}/mx/mt:v1`, 'manifests:',
        `  - image: ${R()}/mx/img:amd64`, '    platform: { architecture: amd64, os: linux }',
        `  - image: ${R()}/mx/img:arm64`, '    platform: { architecture: arm64, os: linux, variant: v8 }', ''].join('\n'));
      await mt('push', 'from-spec', mtSpec);
      made['manifest-tool'] = `${R()}/mx/mt:v1`;
      if (which === 'plain') {
        made.buildah = peers.buildahList.ref;
        made.skopeo = peers.skopeoIndex.ref;
      }
      for (const [peer, ref] of Object.entries(made)) {
        const raw = await crane('manifest', '--insecure', ref);
        const digest = (await crane('digest', '--insecure', ref)).trim();
        expect(sha(raw), peer).toBe(digest);
        const r = await plait(pe(), 'inspect', '--raw', T, `docker://${ref}`);
        expect(sha(r.stdout), `${peer}: plait inspect --raw`).toBe(digest);
        const idx = JSON.parse(raw) as Index;
        for (const [name, platforms] of [[`all`, undefined], ['arm64', ['linux/arm64/v8']]] as const) {
          const f = join(dir, `${which}-${peer}-${name}.yaml`);
          await writeFile(f, ['apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', `metadata: { name: mx-${which}-${peer}-${name} }`, 'spec:',
            `  destination: { image: ${R()}/mx/from-${peer}-${name}, tags: [v1] }`, '  sources:', `    - image: ${ref}`,
            ...(platforms ? [`      platforms: [${platforms.join(', ')}]`] : []), ''].join('\n'));
          await plait(pe(), 'apply', T, f);
          const out = JSON.parse(await crane('manifest', '--insecure', `${R()}/mx/from-${peer}-${name}:v1`)) as Index;
          const want = platforms
            ? idx.manifests.filter((m) => m.platform?.architecture === 'arm64').map((m) => m.digest)
            : idx.manifests.map((m) => m.digest);
          expect(out.manifests.map((m) => m.digest), `${peer} ${name}`).toEqual(want);
        }
      }
    });

    it('every list plait pushes (OCI, Docker, OCI + zstd, signed) is read and copied by crane, regctl, oras, skopeo; manifest-tool inspects it; digests agree', async () => {
      await plait(pe(), 'manifest', 'create', `mx-${which}`);
      await plait(pe(), 'manifest', 'add', T, `mx-${which}`, `docker://${amd64().ref}`);
      await plait(pe(), 'manifest', 'add', T, `mx-${which}`, `docker://${arm64().ref}`);
      const variants: Array<[string, string[]]> = [
        ['oci', ['--format', 'oci']],
        ['docker', ['--format', 'v2s2']],
        ['zstd', ['--add-compression', 'zstd']],
        ['signed', ['--sign-by-sigstore-private-key', join(dir, 'plait.key'), '--sign-passphrase-file', join(dir, 'pass')]],
      ];
      for (const [name, flags] of variants) {
        const ref = `${R()}/mx/plait-${name}:v1`;
        const df = join(dir, `digest-${which}-${name}`);
        await plait(pe(), 'manifest', 'push', T, ...flags, '--digestfile', df, `mx-${which}`, `docker://${ref}`);
        const digest = (await readFile(df, 'utf8')).trim();
        const idx = JSON.parse(await crane('manifest', '--insecure', ref)) as Index;
        expect(idx.mediaType, name).toBe(name === 'docker' ? 'application/vnd.docker.distribution.manifest.list.v2+json' : 'application/vnd.oci.image.index.v1+json');
        expect((await crane('digest', '--insecure', ref)).trim(), `crane reads ${name}`).toBe(digest);
        expect(sha(await regctl('manifest', 'get', '--format', 'raw-body', ref)), `regctl reads ${name}`).toBe(digest);
        expect(sha(await oras('manifest', 'fetch', '--plain-http', ref)), `oras reads ${name}`).toBe(digest);
        const inspected = await mt('inspect', '--raw', ref);
        expect(inspected, `manifest-tool reads ${name}`).toContain(digest.slice(7, 19));

        const copies: Array<[string, () => Promise<unknown>]> = [
          ['crane', () => crane('copy', '--insecure', ref, `${R()}/mx/copy-crane-${name}:v1`)],
          ['regctl', () => regctl('image', 'copy', '--digest-tags', ref, `${R()}/mx/copy-regctl-${name}:v1`)],
          ['oras', () => oras('cp', '-r', '--from-plain-http', '--to-plain-http', ref, `${R()}/mx/copy-oras-${name}:v1`)],
          ['skopeo', () => run('skopeo', [...peers.skopeoArgs, 'copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${ref}`, `docker://${R()}/mx/copy-skopeo-${name}:v1`])],
        ];
        for (const [peer, copy] of copies) {
          await copy();
          const copied = `${R()}/mx/copy-${peer}-${name}:v1`;
          expect((await crane('digest', '--insecure', copied)).trim(), `${peer} copies ${name}`).toBe(digest);
          // the copy is whole: every instance manifest is there under its digest
          for (const m of idx.manifests) expect((await crane('digest', '--insecure', `${copied.replace(/:v1$/, '')}@${m.digest}`)).trim()).toBe(m.digest);
        }
        if (name === 'signed') {
          // regctl --digest-tags carries the .sig tags: plait's signatures still verify at its copy
          for (const d of [digest, ...idx.manifests.map((m) => m.digest)]) {
            await run(bins.cosign, ['verify', '--key', join(dir, 'plait.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', `${R()}/mx/copy-regctl-signed@${d}`], { env: env() });
          }
        }
      }
    });

    it('plait import manifest-tool: the spec reproduces the list manifest-tool pushes from the same YAML, byte for byte (OCI sources, Docker sources, --type oci)', async () => {
      // Docker v2s2 copies of two instances (buildah's v2s2 list, on the 2.8 registry) as manifest-tool's sources.
      const v2 = JSON.parse(await crane('manifest', '--insecure', peers.buildahListV2s2.ref)) as Index;
      const repoOf = (ref: string) => ref.slice(0, ref.lastIndexOf(':'));
      const dockerRefs: string[] = [];
      for (const arch of ['amd64', 'arm64']) {
        const d = v2.manifests.find((m) => m.platform?.architecture === arch)!.digest;
        await crane('copy', '--insecure', `${repoOf(peers.buildahListV2s2.ref)}@${d}`, `${R()}/mx/dimg:${arch}`);
        dockerRefs.push(`${R()}/mx/dimg:${arch}`);
      }
      const dockerSpec = join(dir, `mt-docker-${which}.yaml`);
      await writeFile(dockerSpec, [`image: ${R()}/mx/mtd:v1`, 'manifests:',
        `  - image: ${dockerRefs[0]!}`, '    platform: { architecture: amd64, os: linux }',
        `  - image: ${dockerRefs[1]!}`, '    platform: { architecture: arm64, os: linux, variant: v8 }', ''].join('\n'));
      await mt('push', 'from-spec', dockerSpec);
      const ociSpec = join(dir, `mt-oci-${which}.yaml`);
      await writeFile(ociSpec, [`image: ${R()}/mx/mto:v1`, 'annotations: { org.opencontainers.image.vendor: "plait <lab> & co" }', 'manifests:',
        `  - image: ${R()}/mx/img:amd64`, '    platform: { architecture: amd64, os: linux }',
        `  - image: ${dockerRefs[1]!}`, '    platform: { architecture: arm64, os: linux, variant: v8 }', ''].join('\n'));
      await mt('push', '--type', 'oci', 'from-spec', ociSpec);

      const cases = [
        { spec: join(dir, `mt-${which}.yaml`), repo: 'mx/mt', sources: 'OCI', type: [] as string[] },
        { spec: dockerSpec, repo: 'mx/mtd', sources: 'Docker', type: [] as string[] },
        { spec: ociSpec, repo: 'mx/mto', sources: 'OCI and Docker', type: ['--type', 'oci'] },
      ];
      for (const c of cases) {
        const r = await runPlait(['import', 'manifest-tool', ...c.type, c.spec], { env: pe() });
        expect(r.code, r.stderr).toBe(0);
        const out = join(dir, `imported-${which}-${c.repo.replace('/', '-')}.yaml`);
        await writeFile(out, r.stdout.toString().replace(`image: ${R()}/${c.repo}\n`, `image: ${R()}/${c.repo}-plait\n`));
        await plait(pe(), 'apply', T, out);
        const theirs = await crane('manifest', '--insecure', `${R()}/${c.repo}:v1`);
        const ours = await crane('manifest', '--insecure', `${R()}/${c.repo}-plait:v1`);
        expect(ours, `${c.sources} sources: the same list bytes`).toBe(theirs);
        expect((await crane('digest', '--insecure', `${R()}/${c.repo}-plait:v1`)).trim()).toBe((await crane('digest', '--insecure', `${R()}/${c.repo}:v1`)).trim());
        // The instances are the sources' own manifests (manifest-tool converts nothing), whatever their type.
        for (const m of (JSON.parse(ours) as Index).manifests) {
          expect(sha(await crane('manifest', '--insecure', `${R()}/${c.repo}-plait@${m.digest}`))).toBe(m.digest);
        }
        // A second apply is a no-op: the reproduced list is what the spec describes.
        expect((await plait(pe(), 'apply', T, out)).stderr).toMatch(/1 spec: 1 in sync/);
        // Pointed at manifest-tool's own list, with no history, the imported spec adopts it: nothing is written.
        const adoptFile = join(dir, `adopt-${which}-${c.repo.replace('/', '-')}.yaml`);
        await writeFile(adoptFile, r.stdout);
        const adopted = await plait({ PLAIT_STORE: join(dir, `store-adopt-${which}`) }, 'apply', T, adoptFile);
        expect(adopted.stderr).not.toMatch(/pushed/);
        expect((await crane('manifest', '--insecure', `${R()}/${c.repo}:v1`))).toBe(theirs);
      }
      const first = JSON.parse(await crane('manifest', '--insecure', `${R()}/mx/mt-plait:v1`)) as Index;
      expect(first.manifests.map((m) => m.digest)).toEqual([amd64().digest, arm64().digest]);
      expect((JSON.parse(await crane('manifest', '--insecure', `${R()}/mx/mtd-plait:v1`)) as Index).mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    });
  });
}
