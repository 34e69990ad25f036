import { describe, it, expect, inject, afterAll } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { RegistryImage } from '../../src/transports/index.js';
import { openImage, closeAllClients } from '../../src/transports/index.js';
import { PlaitError } from '../../src/errors.js';
import { startFaultProxy } from '../lab/corrupting-proxy.js';

// Defects the torture runs (npm run torture) found, each pinned down here against the real token-auth registry with
// the lab's fault proxy in front of it.

const lab = inject('lab');
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as const;

afterAll(() => closeAllClients());

describe('a token the registry rejects during a streamed upload', () => {
  it('says the token was rejected (invalid_token), not that the user lacks access', async () => {
    const t = lab.token;
    const challenge = `Bearer realm="${t.realm}",service="${t.service}",error="invalid_token"`;
    const proxy = await startFaultProxy(t.host, (m, p) => (m === 'PUT' && p.includes('/blobs/uploads/') ? { kind: 'status', status: 401, headers: { 'www-authenticate': challenge } } : undefined));
    try {
      const img = openImage(`docker://${proxy.host}/torture/expired-token:v1`, {
        plainHttp: true, creds: `${t.pusher.name}:${t.pusher.password}`, retry: { baseDelayMs: 10, maxDelayMs: 50 },
      }) as RegistryImage;
      const data = randomBytes(4096);
      const err = await img.putBlob(Readable.from([data]), { digest: sha(data), size: data.length }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlaitError);
      const msg = (err as PlaitError).message;
      expect(msg).toContain(proxy.host);
      expect(msg).toContain('invalid_token');
      expect(msg).not.toContain('access denied');
    } finally {
      await proxy.close();
    }
  });
});

describe('DIGEST_INVALID for a manifest whose bytes hash to the digest it is PUT under', () => {
  // distribution 2.8 answered this to one of two concurrent writers of the same manifest (the other got 201).
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
  const digest = sha(manifest);
  const digestInvalid = { kind: 'status' as const, status: 400, code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' };
  const byDigestPuts = (seen: Array<{ method: string; path: string }>) => seen.filter((r) => r.method === 'PUT' && r.path.endsWith(`/manifests/${digest}`)).length;

  it('once: the PUT is tried again and the manifest is stored', async () => {
    let answered = 0;
    const proxy = await startFaultProxy(lab.plain.host, (m, p) => (m === 'PUT' && p.endsWith(`/manifests/${digest}`) && answered++ === 0 ? digestInvalid : undefined));
    try {
      const img = openImage(`docker://${proxy.host}/torture/digest-invalid-once:v1`, { plainHttp: true }) as RegistryImage;
      expect(await img.putManifest(manifest, 'application/vnd.oci.image.index.v1+json')).toBe(digest);
      expect(byDigestPuts(proxy.seen)).toBe(2);
      const direct = openImage(`docker://${lab.plain.host}/torture/digest-invalid-once@${digest}`, { plainHttp: true }) as RegistryImage;
      expect((await direct.getManifest()).bytes.equals(manifest)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('every time: one error naming the manifest, after two PUTs', async () => {
    const proxy = await startFaultProxy(lab.plain.host, (m, p) => (m === 'PUT' && p.endsWith(`/manifests/${digest}`) ? digestInvalid : undefined));
    try {
      const img = openImage(`docker://${proxy.host}/torture/digest-invalid-always:v1`, { plainHttp: true }) as RegistryImage;
      const err = await img.putManifest(manifest, 'application/vnd.oci.image.index.v1+json').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlaitError);
      expect((err as PlaitError).message).toContain(`writing manifest torture/digest-invalid-always:${digest}: DIGEST_INVALID`);
      expect(byDigestPuts(proxy.seen)).toBe(2);
    } finally {
      await proxy.close();
    }
  });
});
