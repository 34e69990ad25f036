// Builds the example sources as local OCI layouts under examples/.build/ (deterministic: the same digests on every
// machine), so that `plait apply examples/` runs with no registry at all. Run by `npm run example`.
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { generateCosignKeyPair } from '../src/core/sign/index.js';
import { generateLayout } from '../test/lab/fixtures/generate.js';

const root = join(import.meta.dirname, '.build');
await rm(join(root, 'sources'), { recursive: true, force: true });
await mkdir(root, { recursive: true });

// Three single-platform builds of one app, as CI jobs for each architecture would leave them.
await generateLayout({
  dir: join(root, 'sources', 'app'), tag: 'app', seed: 'plait-example-app',
  images: [
    { platform: { os: 'linux', architecture: 'amd64' }, layers: 2, layerSize: 64 * 1024, data: 'semi', labels: { 'org.opencontainers.image.title': 'app' } },
    { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: 2, layerSize: 64 * 1024, data: 'semi', labels: { 'org.opencontainers.image.title': 'app' } },
    { platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, layers: 2, layerSize: 64 * 1024, data: 'semi', labels: { 'org.opencontainers.image.title': 'app' } },
  ],
});
// A multi-platform base image, of which an example takes a subset.
await generateLayout({
  dir: join(root, 'sources', 'base'), tag: 'base', seed: 'plait-example-base', index: true,
  images: ['amd64', 'arm64', 'ppc64le', 's390x'].map((architecture) => ({
    platform: { os: 'linux', architecture, ...(architecture === 'arm64' && { variant: 'v8' }) }, layers: 1, layerSize: 32 * 1024, data: 'semi' as const,
  })),
});
console.log(`example sources in ${join(root, 'sources')}`);

// Signing keys for examples/signed.yaml, made once (never committed): a cosign-format sigstore key and an OpenPGP key,
// both protected by the passphrase in keys/passphrase.
const keys = join(root, 'keys');
await mkdir(keys, { recursive: true });
const passphrase = 'example passphrase, not a secret';
const have = async (f: string) => access(join(keys, f)).then(() => true, () => false);
if (!(await have('cosign.key'))) {
  const pair = await generateCosignKeyPair(passphrase);
  await writeFile(join(keys, 'cosign.key'), pair.privatePem, { mode: 0o600 });
  await writeFile(join(keys, 'cosign.pub'), pair.publicPem);
}
if (!(await have('release.sec.asc'))) {
  const gpg = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'plait example', email: 'example@example.invalid' }], passphrase, format: 'armored' });
  await writeFile(join(keys, 'release.sec.asc'), gpg.privateKey, { mode: 0o600 });
  await writeFile(join(keys, 'release.pub.asc'), gpg.publicKey);
}
await writeFile(join(keys, 'passphrase'), `${passphrase}\n`, { mode: 0o600 });
console.log(`example keys in ${keys}`);
