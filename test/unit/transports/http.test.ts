import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as undici from 'undici';
import { Agent, request } from '../../../src/transports/http.js';
import { v8FlagsSet, WASM_BASELINE_ONLY } from '../../../src/v8-flags.js';

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

// A child Node that sets V8 flags at run time, as plait does, then calls a small wasm function until V8 tiers it up
// (or `limit` calls, or 10 s) and says whether it still runs the baseline tier's code, and after how many calls.
const TIER_PROBE = `
const [flags, limit] = [process.argv[1], Number(process.argv[2]) || Infinity];
if (flags) require('node:v8').setFlagsFromString(flags);
const f = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([0,97,115,109,1,0,0,0,1,6,1,96,1,127,1,127,
  3,2,1,0,7,5,1,1,102,0,0,10,27,1,25,1,1,127,3,64,32,1,32,0,106,33,1,32,0,65,1,107,34,0,13,0,11,32,1,11])))
  .exports.f; // (func (export "f") (param i32) (result i32)): the sum of 1..n, in a loop
const liftoff = new Function('f', 'return %IsLiftoffFunction(f)');
f(1); // compiled lazily: by Liftoff, at its first call
const deadline = Date.now() + 10000;
let calls = 0;
while (calls < limit && Date.now() < deadline && liftoff(f)) { for (let i = 0; i < 1000; i++) f(1000); calls += 1000; }
setTimeout(() => console.log(JSON.stringify({ calls, liftoff: liftoff(f) })), 100);
`;
const probe = (flags: string, limit = 0) =>
  JSON.parse(execFileSync(process.execPath, ['--allow-natives-syntax', '-e', TIER_PROBE, '--', flags, String(limit)], { encoding: 'utf8' })) as {
    calls: number;
    liftoff: boolean;
  };

describe('where undici is loaded, wasm stays on the baseline tier', () => {
  it('loading the module sets the flags', () => {
    expect(v8FlagsSet().split(' ')).toEqual(expect.arrayContaining(WASM_BASELINE_ONLY.split(' ')));
  });

  it('set at run time, they keep a hot function on Liftoff where V8 tiers it up without them', () => {
    // Without them V8 tiers the function up; on Node 24, --liftoff-only alone set at run time did not stop it.
    const free = probe('');
    expect(free.liftoff).toBe(false);
    const held = probe(WASM_BASELINE_ONLY, Math.max(4 * free.calls, 100_000));
    expect(held.calls).toBeGreaterThanOrEqual(4 * free.calls);
    expect(held.liftoff).toBe(true);
  });
});
