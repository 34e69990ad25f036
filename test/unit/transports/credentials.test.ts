import { describe, it, expect } from 'vitest';
import { mkdtemp, mkdir, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCredentials, normaliseAuthKey, namespaceKeys, authFilePaths, parseCredsFlag } from '../../../src/transports/registry/credentials.js';
import { parseChallenges } from '../../../src/transports/registry/challenge.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function home() {
  const h = await mkdtemp(join(tmpdir(), 'plait-creds-'));
  const env: NodeJS.ProcessEnv = { HOME: h, XDG_RUNTIME_DIR: join(h, 'run'), PATH: process.env.PATH };
  return { h, env };
}

describe('credentials', () => {
  it('parses --creds', () => {
    expect(parseCredsFlag('u:p:with:colons')).toEqual({ username: 'u', password: 'p:with:colons' });
    expect(parseCredsFlag('u:')).toEqual({ username: 'u', password: '' });
    expect(() => parseCredsFlag('nopassword')).toThrow(/USERNAME:PASSWORD/);
    expect(() => parseCredsFlag(':p')).toThrow(/username is empty/);
  });

  it('normalises docker.io spellings and builds namespace keys', () => {
    for (const k of ['https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io', 'docker.io']) expect(normaliseAuthKey(k)).toBe('docker.io');
    expect(normaliseAuthKey('http://quay.io/')).toBe('quay.io');
    expect(namespaceKeys('registry-1.docker.io', 'library/busybox')).toEqual(['docker.io/library/busybox', 'docker.io/library', 'docker.io']);
  });

  it('looks in the files containers/image looks in, and only in an explicit one when given', () => {
    const env = { HOME: '/h', XDG_RUNTIME_DIR: '/run/u' };
    expect(authFilePaths({ env })).toEqual(['/run/u/containers/auth.json', '/h/.config/containers/auth.json', '/h/.docker/config.json']);
    expect(authFilePaths({ env: { ...env, REGISTRY_AUTH_FILE: '/x.json' } })).toEqual(['/x.json']);
    expect(authFilePaths({ env, authfile: '/flag.json' })).toEqual(['/flag.json']);
    expect(authFilePaths({ env: { ...env, DOCKER_CONFIG: '/d' } })[2]).toBe('/d/config.json');
  });

  it('prefers the runtime auth.json, then the most specific namespace, then docker config', async () => {
    const { h, env } = await home();
    await mkdir(join(h, 'run', 'containers'), { recursive: true });
    await writeFile(join(h, 'run', 'containers', 'auth.json'), JSON.stringify({ auths: { 'reg.example/team': { auth: b64('team:1') }, 'reg.example': { auth: b64('host:2') } } }));
    await mkdir(join(h, '.docker'), { recursive: true });
    await writeFile(join(h, '.docker', 'config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:3') }, 'other.example': { username: 'o', password: '4' } } }));
    expect(await findCredentials('reg.example', 'team/app', { env })).toEqual({ username: 'team', password: '1' });
    expect(await findCredentials('reg.example', 'solo/app', { env })).toEqual({ username: 'host', password: '2' });
    expect(await findCredentials('registry-1.docker.io', 'library/busybox', { env })).toEqual({ username: 'hub', password: '3' });
    expect(await findCredentials('other.example', 'x', { env })).toEqual({ username: 'o', password: '4' });
    expect(await findCredentials('nobody.example', 'x', { env })).toBeUndefined();
    expect(await findCredentials('reg.example', 'x', { env, creds: 'flag:5' })).toEqual({ username: 'flag', password: '5' });
  });

  it('uses credsStore and reports a missing helper in one line without secrets', async () => {
    const { h, env } = await home();
    const bin = join(h, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'docker-credential-store'), '#!/bin/sh\nread host\n[ "$host" = "known.example" ] && printf \'{"Username":"s","Secret":"6"}\' && exit 0\necho "credentials not found in native keychain"; exit 1\n');
    await chmod(join(bin, 'docker-credential-store'), 0o755);
    await mkdir(join(h, '.docker'), { recursive: true });
    await writeFile(join(h, '.docker', 'config.json'), JSON.stringify({ credsStore: 'store', credHelpers: { 'missing.example': 'absent' } }));
    const e2 = { ...env, PATH: `${bin}:${env.PATH ?? ''}` };
    expect(await findCredentials('known.example', undefined, { env: e2 })).toEqual({ username: 's', password: '6' });
    expect(await findCredentials('unknown.example', undefined, { env: e2 })).toBeUndefined();
    await expect(findCredentials('missing.example', undefined, { env: e2 })).rejects.toThrow(/docker-credential-absent is not on PATH/);
  });

  it('rejects a malformed auth file with its path', async () => {
    const { h, env } = await home();
    const f = join(h, 'bad.json');
    await writeFile(f, '{not json');
    await expect(findCredentials('reg.example', undefined, { env, authfile: f })).rejects.toThrow(f);
  });
});

describe('WWW-Authenticate', () => {
  it('parses one or several challenges with quoted and bare parameters', () => {
    expect(parseChallenges('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' } },
    ]);
    expect(parseChallenges(['Basic realm="x"', 'Bearer realm=y, error="insufficient_scope"'])).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'y', error: 'insufficient_scope' } },
    ]);
    expect(parseChallenges('Basic realm="a \\"quoted\\" realm"')[0]!.params.realm).toBe('a "quoted" realm');
    expect(parseChallenges(undefined)).toEqual([]);
  });
});
