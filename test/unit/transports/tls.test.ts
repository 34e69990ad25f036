import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectOptions, loadTlsFiles } from '../../../src/transports/registry/tls.js';

// What src/transports/registry/tls.ts hands undici for a registry host: the system roots, NODE_EXTRA_CA_CERTS and
// the host's certs.d CAs together when there are any of the latter, and nothing of its own when there are none.

let home = '';
// A host no /etc/containers or /etc/docker certs.d directory names.
const host = `plait-tls-test-${process.pid}.invalid:5000`;
const PEM = (n: number) => `-----BEGIN CERTIFICATE-----\nfake ${n}\n-----END CERTIFICATE-----\n`;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'plait-tls-'));
  await writeFile(join(home, 'extra.pem'), PEM(0));
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('TLS files of a registry host', () => {
  it('without certs.d CAs: no CAs of its own, NODE_EXTRA_CA_CERTS left to Node (not read)', async () => {
    const env = { HOME: home, XDG_CONFIG_HOME: join(home, 'none'), NODE_EXTRA_CA_CERTS: join(home, 'extra.pem') };
    const files = await loadTlsFiles(host, undefined, env);
    expect(files).toEqual({ ca: [] });
    expect(connectOptions(files, true)).toEqual({ rejectUnauthorized: true });
  });

  it('with certs.d CAs: the system roots, NODE_EXTRA_CA_CERTS and the host\'s CAs, in that order', async () => {
    const config = join(home, 'config');
    await mkdir(join(config, 'containers', 'certs.d', host), { recursive: true });
    await writeFile(join(config, 'containers', 'certs.d', host, 'ca.crt'), PEM(1));
    const env = { HOME: home, XDG_CONFIG_HOME: config, NODE_EXTRA_CA_CERTS: join(home, 'extra.pem') };
    const files = await loadTlsFiles(host, undefined, env);
    expect(files).toEqual({ ca: [PEM(1)], extraRoots: [PEM(0)] });
    expect(connectOptions(files, false)).toEqual({ rejectUnauthorized: false, ca: [...rootCertificates, PEM(0), PEM(1)] });
    // An unreadable NODE_EXTRA_CA_CERTS is ignored, as Node ignores it (with a warning).
    expect(await loadTlsFiles(host, undefined, { ...env, NODE_EXTRA_CA_CERTS: join(home, 'missing.pem') })).toEqual({ ca: [PEM(1)] });
  });
});
