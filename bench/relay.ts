// Where a cold copy's CPU goes: the same blobs relayed from registry A (distribution 2.8) to registry V (distribution
// v3), 4 at a time, each blob's GET body streamed into its monolithic PUT, by three HTTP paths in one process each:
//   undici   — plait's own request function (src/transports/http.ts): undici's request API and its body streams;
//   undici-1MiB — the same, its sockets reading up to 1 MiB at a time (net's onread into one shared buffer, each read
//              copied out at its size) instead of Node's fresh 64 KiB buffer per read;
//   node:http — Node's http client;
//   raw      — hand-written HTTP/1.1 on net sockets (the floor for JavaScript on this runtime).
// No hashing in any of them: the plait row of the cold-copy case adds its digest check on top. Each measurement is a
// fresh child process; its CPU (user+sys) is counted from the first request to the last answer, so start-up is out.
// Usage: tsx bench/relay.ts [--blobs N] [--mib M] [--rounds R]. It starts its own two registries.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Agent, request } from '../src/transports/http.js';
import { startLab } from '../test/lab/lab.js';
import { summarize } from './lib/stats.js';

interface Blob { digest: string; size: number }
interface Sample { cpuMs: number; userMs: number; wallMs: number }
type Variant = 'undici' | 'undici-1MiB' | 'node:http' | 'raw';
const VARIANTS: Variant[] = ['undici', 'undici-1MiB', 'node:http', 'raw'];

const hostPort = (h: string) => {
  const i = h.lastIndexOf(':');
  return { host: h.slice(0, i), port: Number(h.slice(i + 1)) };
};

async function uploadUrl(v: string, repo: string, digest: string): Promise<URL> {
  const post = await request(`http://${v}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await post.body.dump();
  const loc = new URL(String(post.headers.location), `http://${v}`);
  loc.searchParams.set('digest', digest);
  return loc;
}

// One buffer for every socket: Node calls onread's callback synchronously within the read, and it copies the bytes out.
const readBuffer = Buffer.allocUnsafe(1 << 20);
const largeReads = new Agent({
  connect: {
    onread: {
      buffer: readBuffer,
      callback(this: net.Socket, n: number, buf: Uint8Array): boolean {
        const own = Buffer.allocUnsafe(n);
        own.set(buf.subarray(0, n));
        return this.push(own);
      },
    },
  },
});

async function relayUndici(a: string, v: string, repo: string, b: Blob, dispatcher?: Agent): Promise<void> {
  const get = await request(`http://${a}/v2/bench/relay/blobs/${b.digest}`, { dispatcher });
  const put = await request(await uploadUrl(v, repo, b.digest), {
    method: 'PUT', body: get.body, headers: { 'content-length': String(b.size), 'content-type': 'application/octet-stream' }, dispatcher,
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`PUT ${b.digest}: ${put.statusCode}`);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function httpCall(host: string, opts: http.RequestOptions, body?: NodeJS.ReadableStream): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const r = http.request({ ...hostPort(host), agent, ...opts }, resolve);
    r.on('error', reject);
    if (body) body.pipe(r);
    else r.end();
  });
}

async function relayHttp(a: string, v: string, repo: string, b: Blob): Promise<void> {
  const get = await httpCall(a, { path: `/v2/bench/relay/blobs/${b.digest}` });
  const loc = await uploadUrl(v, repo, b.digest);
  const put = await httpCall(v, { method: 'PUT', path: `${loc.pathname}${loc.search}`, headers: { 'content-length': b.size, 'content-type': 'application/octet-stream' } }, get);
  put.resume();
  await new Promise((r) => put.on('end', r));
  if (put.statusCode !== 201) throw new Error(`PUT ${b.digest}: ${put.statusCode}`);
}

async function relayRaw(a: string, v: string, repo: string, b: Blob): Promise<void> {
  const loc = await uploadUrl(v, repo, b.digest);
  const up = net.connect(hostPort(v));
  const down = net.connect(hostPort(a));
  up.write(`PUT ${loc.pathname}${loc.search} HTTP/1.1\r\nHost: ${v}\r\nContent-Length: ${b.size}\r\nContent-Type: application/octet-stream\r\n\r\n`);
  down.write(`GET /v2/bench/relay/blobs/${b.digest} HTTP/1.1\r\nHost: ${a}\r\nConnection: close\r\n\r\n`);
  // The registry's answer head is short and comes in the first chunk; the rest is the blob.
  let head = true;
  await new Promise<void>((resolve, reject) => {
    down.on('data', (c: Buffer) => {
      let chunk = c;
      if (head) {
        chunk = c.subarray(c.indexOf('\r\n\r\n') + 4);
        head = false;
      }
      if (!up.write(chunk)) {
        down.pause();
        up.once('drain', () => down.resume());
      }
    });
    down.on('end', resolve);
    down.on('error', reject);
  });
  const answer = await new Promise<string>((resolve) => up.once('data', (c: Buffer) => resolve(c.toString('latin1'))));
  up.end();
  if (!answer.startsWith('HTTP/1.1 201')) throw new Error(`PUT ${b.digest}: ${answer.split('\r\n')[0]}`);
}

/** The child: relay every blob with one variant, print {cpuMs, wallMs}. */
async function child(variant: Variant, a: string, v: string, blobs: Blob[]): Promise<void> {
  const relay = variant === 'undici' ? relayUndici
    : variant === 'undici-1MiB' ? (a2: string, v2: string, r: string, b: Blob) => relayUndici(a2, v2, r, b, largeReads)
    : variant === 'node:http' ? relayHttp : relayRaw;
  const repo = `bench/relay-${variant.replace(':', '-').toLowerCase()}-${Date.now().toString(36)}`;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const queue = [...blobs];
  await Promise.all([0, 1, 2, 3].map(async () => {
    for (let b = queue.shift(); b; b = queue.shift()) await relay(a, v, repo, b);
  }));
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ cpuMs: (c.user + c.system) / 1000, userMs: c.user / 1000, wallMs: performance.now() - t0 }) + '\n');
  process.exit(0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { blobs: { type: 'string', default: '16' }, mib: { type: 'string', default: '8' }, rounds: { type: 'string', default: '5' }, child: { type: 'string' } } });
  if (values.child) {
    const { variant, a, v, blobs } = JSON.parse(values.child) as { variant: Variant; a: string; v: string; blobs: Blob[] };
    return child(variant, a, v, blobs);
  }
  const lab = await startLab({ only: ['plain', 'v3'] });
  try {
    const a = lab.info.plain.host;
    const v = lab.info.v3.host;
    const blobs: Blob[] = [];
    for (let i = 0; i < Number(values.blobs); i++) {
      const bytes = randomBytes(Number(values.mib) * 1024 * 1024);
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const put = await request(await uploadUrl(a, 'bench/relay', digest), { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
      await put.body.dump();
      blobs.push({ digest, size: bytes.length });
    }
    const me = fileURLToPath(import.meta.url);
    const tsx = execFileSync('node', ['-p', 'require.resolve("tsx/cli")'], { encoding: 'utf8' }).trim();
    const got = new Map<Variant, Array<Sample>>(VARIANTS.map((x) => [x, []]));
    // One discarded warm-up round, then the variants alternate.
    for (let r = 0; r <= Number(values.rounds); r++) {
      for (const variant of VARIANTS) {
        const out = spawnSync('node', [tsx, me, '--child', JSON.stringify({ variant, a, v, blobs })], { encoding: 'utf8' });
        if (out.status !== 0) throw new Error(`${variant}: ${out.stderr}`);
        if (r > 0) got.get(variant)!.push(JSON.parse(out.stdout) as Sample);
      }
    }
    const mib = (Number(values.blobs) * Number(values.mib)).toFixed(0);
    const raw = summarize(got.get('raw')!.map((x) => x.cpuMs)).median;
    console.log(`relay of ${values.blobs} × ${values.mib} MiB (${mib} MiB) A (2.8) → V (v3), 4 at a time, ${values.rounds} rounds, node ${process.version}, load ${loadavg()[0]!.toFixed(2)}`);
    console.log('| path | CPU (user+sys) median | vs raw | of it user | wall median |\n|---|---|---|---|---|');
    for (const variant of VARIANTS) {
      const s = got.get(variant)!;
      const cpu = summarize(s.map((x) => x.cpuMs)).median;
      const user = summarize(s.map((x) => x.userMs)).median;
      console.log(`| ${variant} | ${cpu.toFixed(0)} ms | ${(cpu / raw).toFixed(2)}× | ${user.toFixed(0)} ms | ${summarize(s.map((x) => x.wallMs)).median.toFixed(0)} ms |`);
    }
  } finally {
    await lab.stop();
  }
}

await main();
