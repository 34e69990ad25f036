// Credentials never cross to another host, and never show up anywhere. A hostile registry on 127.0.0.1 names a token
// realm on "localhost" (another host by name, the rule plait applies) and a second server plays that realm, recording
// every Authorization it is sent. The secrets go through apply with --log-format json, a GitHub step summary and a
// store, and every byte plait wrote is searched for them (plain and base64).
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLine, sandbox } from './helpers.js';
import type { Sandbox } from './helpers.js';

const PASSWORD = 'pw-Secret-7f3c91d2-never-print';
const USER = 'hostile-user';
const basic = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0 };
}

let sb: Sandbox;
let registry: { server: Server; port: number };
let realm: { server: Server; port: number };
const realmSaw: string[] = [];

beforeAll(async () => {
  sb = await sandbox();
  realm = await listen((req, res) => {
    realmSaw.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: 'stolen-token' }));
  });
  registry = await listen((req, res) => {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${realm.port}/token",service="evil"`, 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  });
}, 120_000);
afterAll(() => {
  registry.server.close();
  realm.server.close();
});

async function everythingWritten(dir: string): Promise<string> {
  let all = '';
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d).catch(() => [] as string[])) {
      const p = join(d, e);
      const s = await stat(p);
      if (s.isDirectory()) await walk(p);
      else all += (await readFile(p)).toString('latin1');
    }
  };
  await walk(dir);
  return all;
}

describe('credentials and other hosts', () => {
  it('a token realm on another host gets no credentials: one line naming the realm and the setting', async () => {
    const r = await sb.plait(['inspect', '--plain-http', '--creds', `${USER}:${PASSWORD}`, `docker://127.0.0.1:${registry.port}/app:v1`]);
    expectOneLine(r, new RegExp(`token realm localhost:${realm.port} is on another host.*PLAIT_TOKEN_REALM_HOSTS=localhost`));
    expect(realmSaw.filter((a) => a !== '')).toEqual([]);
    expect(r.stderr + r.stdout.toString()).not.toContain(PASSWORD);
  });

  it('with the realm host allowed, the credentials go there (so the refusal above is the rule, not an accident)', async () => {
    realmSaw.length = 0;
    await sb.plait(['inspect', '--plain-http', '--creds', `${USER}:${PASSWORD}`, `docker://127.0.0.1:${registry.port}/app:v1`], { env: { PLAIT_TOKEN_REALM_HOSTS: 'localhost' } });
    expect(realmSaw).toContain(`Basic ${basic}`);
  });

  it('no secret in stdout, stderr (text and json logs), the step summary, history or the store', async () => {
    const spec = join(sb.dir, 'secret.yaml');
    await writeFile(spec, [
      'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', 'metadata: {name: secret}', 'spec:',
      '  destination: {image: oci:out/secret, tags: [v1]}', `  sources: [{image: "127.0.0.1:${registry.port}/app:v1"}]`, '',
    ].join('\n'));
    const summary = join(sb.dir, 'summary.md');
    let out = '';
    for (const log of ['text', 'json']) {
      const r = await sb.plait(['apply', '--plain-http', '--creds', `${USER}:${PASSWORD}`, '--log-format', log, '-o', 'json', spec], {
        env: { GITHUB_STEP_SUMMARY: summary, PLAIT_TOKEN_REALM_HOSTS: 'localhost' },
      });
      expect(r.code).toBe(1);
      out += r.stdout.toString('latin1') + r.stderr;
    }
    out += (await sb.plait(['history', 'secret'])).stderr;
    out += await everythingWritten(sb.dir);
    expect(out.length).toBeGreaterThan(100);
    expect(out).toContain('secret');
    for (const s of [PASSWORD, basic, 'stolen-token']) expect(out).not.toContain(s);
  });
});
