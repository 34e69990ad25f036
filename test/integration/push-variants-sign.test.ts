import { describe, it, expect, inject } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile, readFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { run } from '../lab/proc.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { runPlait } from '../helpers/cli.js';

// `plait manifest push` with compression variants and signers, end to end against the real registry and the peers:
// clones skopeo can copy, reproducible digests with no re-upload, every instance and the list signed, re-signing
// idempotent.

const lab = inject('lab');
const peers = inject('peers');
const R = lab.plain.host;
const T = '--tls-verify=false';
const PASS = 'correct horse battery staple';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const raw = (ref: string) => run('skopeo', ['inspect', '--raw', T, `docker://${ref}`]);

async function plait(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = await runPlait(args, { env });
  if (r.code !== 0) throw new Error(`plait ${args.join(' ')} → ${r.code}: ${r.stderr}`);
  return r;
}

interface Index { manifests: Array<{ digest: string; mediaType: string; annotations?: Record<string, string>; platform?: { architecture: string } }> }

interface SigAttachment { layers: Array<{ digest: string; annotations: Record<string, string> }> }

/**
 * A cosign `.sig` attachment of `digest`: its one layer is the payload (read by `readBlob`), which names `identity`
 * and `digest`; its annotation is the signature, which openssl verifies with `dir`/cosign.pub.
 */
async function expectSigstoreSigned(dir: string, sig: SigAttachment, readBlob: (digest: string) => Promise<string>, identity: string, digest: string): Promise<void> {
  expect(sig.layers).toHaveLength(1);
  const payload = await readBlob(sig.layers[0]!.digest);
  const payloadFile = join(dir, 'payload');
  await writeFile(payloadFile, payload);
  expect(JSON.parse(payload)).toMatchObject({ critical: { identity: { 'docker-reference': identity }, image: { 'docker-manifest-digest': digest } } });
  await writeFile(join(dir, 'sig.der'), Buffer.from(sig.layers[0]!.annotations['dev.cosignproject.cosign/signature']!, 'base64'));
  expect(await run('openssl', ['dgst', '-sha256', '-verify', join(dir, 'cosign.pub'), '-signature', join(dir, 'sig.der'), payloadFile])).toContain('Verified OK');
}

describe('push --add-compression zstd', () => {
  it('adds a zstd twin per platform after the gzip entries; skopeo reads each; a second push reuses everything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-variants-'));
    const env = { PLAIT_STORE: join(dir, 'store') };
    await plait(env, 'manifest', 'create', 'zl');
    await plait(env, 'manifest', 'add', T, '--all', 'zl', `docker://${peers.skopeoIndex.ref}`);
    const df = join(dir, 'digest');
    await plait(env, 'manifest', 'push', T, '--add-compression', 'zstd', '--digestfile', df, 'zl', `docker://${R}/variants/a:v1`);
    const digest = (await readFile(df, 'utf8')).trim();
    const index = JSON.parse(await raw(`${R}/variants/a:v1`)) as Index;
    expect(sha(await raw(`${R}/variants/a:v1`))).toBe(digest);
    expect(index.manifests).toHaveLength(8);
    const zstd = index.manifests.slice(4);
    expect(index.manifests.slice(0, 4).every((m) => !m.annotations?.['io.github.containers.compression.zstd'])).toBe(true);
    expect(zstd.every((m) => m.annotations?.['io.github.containers.compression.zstd'] === 'true')).toBe(true);
    expect(zstd.map((m) => m.platform?.architecture)).toEqual(index.manifests.slice(0, 4).map((m) => m.platform?.architecture));
    for (const m of zstd) {
      const out = join(dir, `clone-${m.digest.slice(7, 19)}`);
      await run('skopeo', [...peers.skopeoArgs, 'copy', '--src-tls-verify=false', `docker://${R}/variants/a@${m.digest}`, `oci:${out}:x`]);
      const clone = JSON.parse(await run('skopeo', ['inspect', '--raw', `oci:${out}:x`])) as { layers: Array<{ mediaType: string }> };
      expect(clone.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd')).toBe(true);
    }

    // Same list again, to the same repository and to a new one on the same registry: the same digest, no bytes.
    for (const target of [`${R}/variants/a:v1`, `${R}/variants/b:v1`]) {
      const mark = await logMark(lab.plain.accessLog);
      await plait(env, 'manifest', 'push', T, '--add-compression', 'zstd', '--digestfile', df, 'zl', `docker://${target}`);
      expect((await readFile(df, 'utf8')).trim()).toBe(digest);
      const entries = await entriesSince(lab.plain.accessLog, mark);
      expect(entries.filter((e) => e.method === 'PATCH')).toEqual([]);
      expect(entries.filter((e) => e.method === 'PUT' && e.path.includes('/blobs/uploads/'))).toEqual([]);
    }
  });

  it('refuses what cannot work, in one line, before pushing anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-variants-'));
    const env = { PLAIT_STORE: join(dir, 'store') };
    await plait(env, 'manifest', 'create', 'bad');
    await plait(env, 'manifest', 'add', T, 'bad', `docker://${peers.singles[0]!.ref}`);
    const mark = await logMark(lab.plain.accessLog);
    for (const [args, re] of [
      [['--format', 'v2s2', '--add-compression', 'zstd'], /Docker manifest list cannot mark them/],
      [['--add-compression', 'zstd:chunked'], /zstd:chunked/],
      [['--add-compression', 'brotli'], /not supported/],
      [['--force-compression'], /undefined default compression format/],
    ] as const) {
      const r = await runPlait(['manifest', 'push', T, ...args, 'bad', `docker://${R}/variants/refused:v1`], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect((await entriesSince(lab.plain.accessLog, mark)).filter((e) => e.path.includes('/variants/refused/'))).toEqual([]);
  });
});

describe('push with signers', () => {
  it('signs every instance and the list (sigstore verified by openssl, GPG by skopeo); re-pushing adds nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-signed-'));
    const env = { PLAIT_STORE: join(dir, 'store'), PLAIT_PASSPHRASE: PASS };
    await writeFile(join(dir, 'pass'), `${PASS}\n`);
    await plait(env, 'key', 'generate', '--prefix', join(dir, 'cosign'));
    const gen = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Plait Test', email: 'test@example.invalid' }], passphrase: PASS, format: 'armored' });
    await writeFile(join(dir, 'gpg.sec.asc'), gen.privateKey);
    await writeFile(join(dir, 'gpg.pub.asc'), gen.publicKey);
    const gnupg = join(dir, 'gnupg');
    await mkdir(gnupg, { mode: 0o700 });
    await run('gpg', ['--batch', '--homedir', gnupg, '--import', join(dir, 'gpg.pub.asc')]);
    const fpr = (await openpgp.readKey({ armoredKey: gen.publicKey })).getFingerprint().toUpperCase();
    const lookaside = join(dir, 'lookaside');
    await mkdir(lookaside);

    await plait(env, 'manifest', 'create', 'signed');
    for (const s of peers.singles.slice(0, 2)) await plait(env, 'manifest', 'add', T, 'signed', `docker://${s.ref}`);
    const push = ['manifest', 'push', T, '--sign-by-sigstore-private-key', join(dir, 'cosign.key'), '--sign-by-gpg-key', join(dir, 'gpg.sec.asc'),
      '--sign-passphrase-file', join(dir, 'pass'), '--lookaside', lookaside, 'signed', `docker://${R}/signed/app:v1`];
    await plait(env, ...push);
    const listBytes = await raw(`${R}/signed/app:v1`);
    const list = JSON.parse(listBytes) as Index;
    const digests = [...list.manifests.map((m) => m.digest), sha(listBytes)];
    for (const d of digests) {
      const sig = JSON.parse(await raw(`${R}/signed/app:${d.replace(':', '-')}.sig`)) as SigAttachment;
      await expectSigstoreSigned(dir, sig, (b) => run('curl', ['-sf', `http://${R}/v2/signed/app/blobs/${b}`]), `${R}/signed/app:v1`, d);
      // GPG: skopeo verifies the lookaside signature against the manifest it signs.
      const manifestFile = join(dir, 'manifest.json');
      await writeFile(manifestFile, d === sha(listBytes) ? listBytes : await raw(`${R}/signed/app@${d}`));
      const verified = await run('skopeo', ['standalone-verify', manifestFile, `${R}/signed/app:v1`, fpr, join(lookaside, `signed/app@${d.replace(':', '=')}`, 'signature-1')], { env: { ...process.env, GNUPGHOME: gnupg } });
      expect(verified).toContain('Signature verified');
    }
    // Pushing the signed list again adds no second signature anywhere.
    await plait(env, ...push);
    for (const d of digests) {
      const sig = JSON.parse(await raw(`${R}/signed/app:${d.replace(':', '-')}.sig`)) as SigAttachment;
      expect(sig.layers).toHaveLength(1);
      await expect(readFile(join(lookaside, `signed/app@${d.replace(':', '=')}`, 'signature-2'))).rejects.toThrow(/ENOENT/);
    }
    // A wrong passphrase is reported before anything is pushed.
    await writeFile(join(dir, 'wrong'), 'nope\n');
    const mark = await logMark(lab.plain.accessLog);
    const wrong = await runPlait(['manifest', 'push', T, '--sign-by-sigstore-private-key', join(dir, 'cosign.key'), '--sign-passphrase-file', join(dir, 'wrong'), 'signed', `docker://${R}/signed/other:v1`], { env });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    expect(wrong.stderr).not.toContain(PASS);
    expect((await entriesSince(lab.plain.accessLog, mark)).filter((e) => e.path.includes('/signed/other/'))).toEqual([]);
  });

  it('into an oci: layout: refused in one line without --sign-identity, nothing written; with it, every manifest is signed under it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-signed-oci-'));
    const env = { PLAIT_STORE: join(dir, 'store'), PLAIT_PASSPHRASE: PASS };
    await plait(env, 'key', 'generate', '--prefix', join(dir, 'cosign'));
    await plait(env, 'manifest', 'create', 'local');
    for (const s of peers.singles.slice(0, 2)) await plait(env, 'manifest', 'add', T, 'local', `docker://${s.ref}`);
    const layout = join(dir, 'layout');
    const key = ['--sign-by-sigstore-private-key', join(dir, 'cosign.key')];
    // An OCI layout has no registry name for the signature to claim.
    const refused = await runPlait(['manifest', 'push', T, ...key, 'local', `oci:${layout}:v1`], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--sign-identity/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    await expect(readFile(join(layout, 'index.json'))).rejects.toThrow(/ENOENT/);
    // --sign-identity without a key is a mistake, not a silent no-op.
    const alone = await runPlait(['manifest', 'push', T, '--sign-identity', `${R}/served/app:v1`, 'local', `oci:${layout}:v1`], { env });
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/--sign-identity needs a --sign-by/);

    await plait(env, 'manifest', 'push', T, ...key, '--sign-identity', `${R}/served/app:v1`, 'local', `oci:${layout}:v1`);
    const listBytes = await run('skopeo', ['inspect', '--raw', `oci:${layout}:v1`]);
    const list = JSON.parse(listBytes) as Index;
    for (const d of [...list.manifests.map((m) => m.digest), sha(listBytes)]) {
      const sig = JSON.parse(await run('skopeo', ['inspect', '--raw', `oci:${layout}:${d.replace(':', '-')}.sig`])) as SigAttachment;
      await expectSigstoreSigned(dir, sig, (b) => readFile(join(layout, 'blobs', 'sha256', b.slice('sha256:'.length)), 'utf8'), `${R}/served/app:v1`, d);
    }
  });
});
