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
