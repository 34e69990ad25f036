import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as undici from 'undici';
import { Agent, request } from '../../../src/transports/http.js';

// src/transports/http.ts loads undici's Agent and request API by their paths inside the package, to skip undici's
// index. If a new undici moves them, or the index starts handing out something else, these fail.

let base = '';
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    res.setHeader('x-seen', `${req.method} ${req.url} ${body}`);
    res.end(`hello ${req.method}`);
  });
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('the undici parts plait loads', () => {
  it('are the very classes undici exports', () => {
    expect(Agent).toBe(undici.Agent);
    const a = new Agent();
    expect(a).toBeInstanceOf(undici.Dispatcher);
    // The request API the index mixes into every dispatcher is the one this module calls.
    expect(typeof (a as unknown as { request: unknown }).request).toBe('function');
    void a.close();
  });

  it('answer like undici.request: default method, path and query, body, own dispatcher or none', async () => {
    const agent = new Agent();
    const cases: Array<[string, Parameters<typeof request>[1]]> = [
      [`${base}/v2/`, {}],
      [`${base}/v2/a/b/blobs/uploads/?digest=sha256%3Aabc&x=1`, { method: 'PUT', body: 'data', dispatcher: agent }],
      [`${base}/v2/x/manifests/v1`, { body: 'implicit-put', dispatcher: agent }],
      [`${base}/v2/x/manifests/v1`, { method: 'HEAD', dispatcher: agent }],
    ];
    for (const [url, opts] of cases) {
      const ours = await request(url, opts);
      const theirs = await undici.request(url, opts);
      expect(ours.statusCode).toBe(theirs.statusCode);
      expect(ours.headers['x-seen']).toBe(theirs.headers['x-seen']);
      expect(await ours.body.text()).toBe(await theirs.body.text());
    }
    await agent.close();
  });
});
