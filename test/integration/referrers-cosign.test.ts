import { describe, it, expect, inject, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../lab/proc.js';
import { requireGoPart } from '../lab/registry.js';
import { runPlait } from '../helpers/cli.js';

// Referrers and real cosign, against both lab registries (Debian's distribution 2.8 and distribution v3.0.0; neither
// serves the OCI referrers API, so what is exercised is the tag schema: cosign's `sha256-<hex>.sig` and the
// `sha256-<hex>` fallback index oras writes). Sources carry a cosign signature made by cosign itself and an SBOM
// attached by oras; after `plait apply` with `referrers.copy`, cosign verifies both its own and plait's signatures at
// the destination, oras discovers the SBOM there, and an altered payload fails cosign's verification.

const lab = inject('lab');
const peers = inject('peers');
const T = '--tls-verify=false';
const PASS = 'interop passphrase';
const SBOM_TYPE = 'application/spdx+json';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const cosignBin = requireGoPart('cosign');
const orasBin = requireGoPart('oras');
const craneBin = requireGoPart('crane');

let home = '';
const peerEnv = () => ({ ...process.env, HOME: home, COSIGN_PASSWORD: PASS, DOCKER_CONFIG: join(home, '.docker') });
const cosign = (...args: string[]) => run(cosignBin, args, { env: peerEnv() });
const oras = (cwd: string, ...args: string[]) => run(orasBin, args, { cwd, env: peerEnv() });
const crane = (...args: string[]) => run(craneBin, args, { env: peerEnv() });
const cosignVerify = (pub: string, ref: string) =>
  cosign('verify', '--key', pub, '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', '--output', 'json', ref);

async function plait(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = await runPlait(args, { env });
  if (r.code !== 0) throw new Error(`plait ${args.join(' ')} → ${r.code}: ${r.stderr}`);
  return r;
}

interface Index { manifests: Array<{ digest: string; mediaType: string; artifactType?: string; platform?: { architecture: string } }> }

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-referrers-'));
  home = join(dir, 'home');
  await run('mkdir', ['-p', home]);
  await cosign('generate-key-pair', '--output-key-prefix', join(dir, 'cosign'));
  await writeFile(join(dir, 'pass'), `${PASS}\n`);
  await plait({}, 'key', 'generate', '--prefix', join(dir, 'plait'), '--passphrase-file', join(dir, 'pass'));
  await writeFile(join(dir, 'sbom.spdx.json'), JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'interop', SPDXID: 'SPDXRef-DOCUMENT' }));
});

for (const which of ['plain', 'v3'] as const) {
  describe(`referrers and cosign on ${which === 'plain' ? 'distribution 2.8' : 'distribution v3'}`, () => {
    const R = () => lab[which].host;

    it('carries a cosign signature and an oras SBOM per instance; cosign verifies its own and plait\'s signatures at the destination; oras discovers the SBOM', async () => {
      const srcs = peers.singles.slice(0, 2);
      const digests: string[] = [];
      for (const [i, s] of srcs.entries()) {
        const ref = `${R()}/ref/src${i}:v1`;
        await crane('copy', '--insecure', s.ref, ref);
        digests.push(s.digest);
        await cosign('sign', '--key', join(dir, 'cosign.key'), '--tlog-upload=false', '--allow-http-registry', '--allow-insecure-registry', '-y', `${R()}/ref/src${i}@${s.digest}`);
        await oras(dir, 'attach', '--plain-http', '--artifact-type', SBOM_TYPE, `${R()}/ref/src${i}@${s.digest}`, `sbom.spdx.json:${SBOM_TYPE}`);
      }
      const spec = join(dir, `${which}.yaml`);
      await writeFile(spec, [
        'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', `metadata: { name: ref-${which} }`, 'spec:',
        `  destination: { image: ${R()}/ref/dest, tags: [v1] }`,
        '  sources:', ...srcs.map((_, i) => `    - image: ${R()}/ref/src${i}:v1`),
        '  referrers: { copy: true }',
        '  signatures:', '    sigstore:', `      - privateKey: { file: plait.key }`, `        passphrase: { file: pass }`, '',
      ].join('\n'));
      const env = { PLAIT_STORE: join(dir, `store-${which}`) };
      await plait(env, 'apply', T, spec);
      const listRaw = await crane('manifest', '--insecure', `${R()}/ref/dest:v1`);
      const list = JSON.parse(listRaw) as Index;
      expect(list.manifests.map((m) => m.digest)).toEqual(digests);

      for (const d of digests) {
        const at = `${R()}/ref/dest@${d}`;
        // cosign's own signature, carried, and plait's, added to the same .sig attachment
        for (const pub of ['cosign.pub', 'plait.pub']) {
          const verified = JSON.parse(await cosignVerify(join(dir, pub), at)) as Array<{ critical: { image: { 'docker-manifest-digest': string } } }>;
          expect(verified.map((v) => v.critical.image['docker-manifest-digest'])).toContain(d);
        }
        const found = JSON.parse(await oras(dir, 'discover', '--plain-http', '--format', 'json', at)) as { referrers?: Array<{ artifactType: string; digest: string }>; manifests?: Array<{ artifactType: string; digest: string }> };
        const types = (found.referrers ?? found.manifests ?? []).map((r) => r.artifactType);
        expect(types).toContain(SBOM_TYPE);
        // the SBOM's blob moved too: oras pulls it at the destination and it is the file attached at the source
        const sbom = (found.referrers ?? found.manifests ?? []).find((r) => r.artifactType === SBOM_TYPE)!;
        const out = join(dir, `pull-${which}-${d.slice(7, 15)}`);
        await oras(dir, 'pull', '--plain-http', '-o', out, `${R()}/ref/dest@${sbom.digest}`);
        expect(sha(await readFile(join(out, 'sbom.spdx.json')))).toBe(sha(await readFile(join(dir, 'sbom.spdx.json'))));
      }
      // the list itself carries plait's signature, which cosign accepts
      await cosignVerify(join(dir, 'plait.pub'), `${R()}/ref/dest@${sha(listRaw)}`);

      // a second apply changes nothing: the carried and merged attachments stay as they are
      const sigBefore = await crane('digest', '--insecure', `${R()}/ref/dest:${digests[0]!.replace(':', '-')}.sig`);
      const again = await plait(env, 'apply', T, spec);
      expect(again.stderr).not.toMatch(/error/i);
      expect(await crane('digest', '--insecure', `${R()}/ref/dest:${digests[0]!.replace(':', '-')}.sig`)).toBe(sigBefore);
    });

    it('plait key generate keys sign with cosign sign --key and verify with cosign verify; manifest push --referrers carries them', async () => {
      const s = peers.singles[3]!;
      const repo = `${R()}/ref/keys`;
      await crane('copy', '--insecure', s.ref, `${repo}:v1`);
      await cosign('sign', '--key', join(dir, 'plait.key'), '--tlog-upload=false', '--allow-http-registry', '--allow-insecure-registry', '-y', `${repo}@${s.digest}`);
      await cosignVerify(join(dir, 'plait.pub'), `${repo}@${s.digest}`);
      await oras(dir, 'attach', '--plain-http', '--artifact-type', SBOM_TYPE, `${repo}@${s.digest}`, `sbom.spdx.json:${SBOM_TYPE}`);

      const env = { PLAIT_STORE: join(dir, `store-keys-${which}`) };
      await plait(env, 'manifest', 'create', 'kl');
      await plait(env, 'manifest', 'add', T, 'kl', `docker://${repo}:v1`);
      // Only the SBOM's type: the cosign signature stays behind.
      await plait(env, 'manifest', 'push', T, '--referrers', '--referrers-artifact-type', SBOM_TYPE, 'kl', `docker://${R()}/ref/keys-sbom:v1`);
      await expect(cosignVerify(join(dir, 'plait.pub'), `${R()}/ref/keys-sbom@${s.digest}`)).rejects.toThrow(/no signatures found|no matching signatures/i);
      const found = JSON.parse(await oras(dir, 'discover', '--plain-http', '--format', 'json', `${R()}/ref/keys-sbom@${s.digest}`)) as { referrers?: Array<{ artifactType: string }>; manifests?: Array<{ artifactType: string }> };
      expect((found.referrers ?? found.manifests ?? []).map((r) => r.artifactType)).toEqual([SBOM_TYPE]);
      // Everything: the signature cosign made with plait's key verifies at the destination.
      await plait(env, 'manifest', 'push', T, '--referrers', 'kl', `docker://${R()}/ref/keys-all:v1`);
      await cosignVerify(join(dir, 'plait.pub'), `${R()}/ref/keys-all@${s.digest}`);
      // Without --referrers nothing is carried.
      await plait(env, 'manifest', 'push', T, 'kl', `docker://${R()}/ref/keys-none:v1`);
      await expect(cosignVerify(join(dir, 'plait.pub'), `${R()}/ref/keys-none@${s.digest}`)).rejects.toThrow(/no signatures found|no matching signatures/i);
    });

    it('an altered payload fails cosign verification', async () => {
      const s = peers.singles[2]!;
      const repo = `${R()}/ref/tamper`;
      await crane('copy', '--insecure', s.ref, `${repo}:v1`);
      const env = { PLAIT_STORE: join(dir, `store-tamper-${which}`) };
      await plait(env, 'manifest', 'create', 'tl');
      await plait(env, 'manifest', 'add', T, 'tl', `docker://${repo}:v1`);
      await plait(env, 'manifest', 'push', T, '--sign-by-sigstore-private-key', join(dir, 'plait.key'), '--sign-passphrase-file', join(dir, 'pass'), 'tl', `docker://${repo}:list`);
      await cosignVerify(join(dir, 'plait.pub'), `${repo}@${s.digest}`);

      // Rewrite the payload (another timestamp) and keep the signature annotation: what a tamperer could do.
      const sigTag = `${repo}:${s.digest.replace(':', '-')}.sig`;
      const manifest = JSON.parse(await crane('manifest', '--insecure', sigTag)) as { layers: Array<{ digest: string; size: number }> };
      expect(manifest.layers).toHaveLength(1);
      const payload = await crane('blob', '--insecure', `${repo}@${manifest.layers[0]!.digest}`);
      const altered = payload.replace(/"timestamp":\d+/, '"timestamp":1');
      expect(altered).not.toBe(payload);
      manifest.layers[0]!.digest = sha(altered);
      manifest.layers[0]!.size = Buffer.byteLength(altered);
      await uploadBlob(R(), 'ref/tamper', Buffer.from(altered));
      await putManifest(R(), 'ref/tamper', `${s.digest.replace(':', '-')}.sig`, Buffer.from(JSON.stringify(manifest)));
      await expect(cosignVerify(join(dir, 'plait.pub'), `${repo}@${s.digest}`)).rejects.toThrow(/no matching signatures|invalid signature|failed to verify/i);
    });
  });
}

async function uploadBlob(host: string, repo: string, bytes: Buffer): Promise<void> {
  const post = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  expect(post.status).toBe(202);
  const loc = new URL(post.headers.get('location')!, `http://${host}`);
  loc.searchParams.set('digest', sha(bytes));
  const put = await fetch(loc, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  expect(put.status).toBe(201);
}

async function putManifest(host: string, repo: string, tag: string, bytes: Buffer): Promise<void> {
  const put = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  expect(put.status).toBe(201);
}
