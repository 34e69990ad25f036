import { createServer, request } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createHash } from 'node:crypto';

// The torture proxy: loopback HTTP in front of a lab registry that, by seed, turns some requests into the faults a real
// network and a real registry produce. A request's fate is a hash of (seed, method, path, how many times that same
// request was seen), so a seed names the same faults whatever order concurrent requests arrive in.

export const FAULT_KINDS = [
  'status-500', 'status-502', 'status-503', 'rate-limit', 'reset-mid-body', 'stall', 'truncate',
  'length-short', 'length-long', 'corrupt', 'token-expired',
] as const;
export type FaultKind = typeof FAULT_KINDS[number];

export interface TortureProxy {
  host: string;
  url: string;
  /** Faults on or off (a clean re-run goes through the same proxy with faults off). */
  enabled: boolean;
  seed: number;
  /** Chance in [0,1] that one request gets a fault. */
  rate: number;
  injected: Record<string, number>;
  requests: number;
  close(): Promise<void>;
}

/** mulberry32 over a 32-bit hash: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash32(s: string): number {
  return createHash('sha256').update(s).digest().readUInt32BE(0);
}

const BODY_FAULTS = new Set<FaultKind>(['reset-mid-body', 'truncate', 'length-short', 'length-long', 'corrupt']);

export async function startTortureProxy(targetHost: string, opts: { seed: number; rate: number; challenge: string }): Promise<TortureProxy> {
  const [thost, tport] = targetHost.split(':');
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();

  const pick = (method: string, path: string, hasBearer: boolean): FaultKind | undefined => {
    if (!proxy.enabled) return undefined;
    const key = `${method} ${path}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    const r = rng(hash32(`${proxy.seed}\u0000${key}\u0000${n}`));
    if (r() >= proxy.rate) return undefined;
    let kinds = FAULT_KINDS.filter((k) => k !== 'token-expired' || hasBearer);
    // A HEAD has no body to damage.
    if (method === 'HEAD') kinds = kinds.filter((k) => !BODY_FAULTS.has(k));
    return kinds[Math.floor(r() * kinds.length)];
  };

  const count = (k: FaultKind) => {
    proxy.injected[k] = (proxy.injected[k] ?? 0) + 1;
  };

  const answer = (req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string> = {}) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ errors: [{ code: status === 401 ? 'UNAUTHORIZED' : 'UNAVAILABLE', message: 'injected by the torture proxy' }] }));
  };

  const server: Server = createServer((req, res) => {
    proxy.requests++;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const f = pick(method, path, (req.headers.authorization ?? '').startsWith('Bearer '));
    if (f) count(f);
    switch (f) {
      case 'status-500': return answer(req, res, 500);
      case 'status-502': return answer(req, res, 502);
      case 'status-503': return answer(req, res, 503);
      case 'rate-limit': return answer(req, res, 429, { 'retry-after': '1' });
      case 'token-expired':
        // What distribution answers for a token past its exp.
        return answer(req, res, 401, { 'www-authenticate': `${opts.challenge},error="invalid_token"` });
      case 'stall':
        // Read the request, answer nothing: only the client's timeout ends it.
        req.resume();
        return;
      default:
    }
    const bodyFault = f && BODY_FAULTS.has(f) ? f : undefined;
    const up = request({ host: thost, port: Number(tport), method, path, headers: { ...req.headers, host: targetHost } }, (ur) => {
      const headers = { ...ur.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`http://${targetHost}`, proxy.url);
      const status = ur.statusCode ?? 502;
      if (!bodyFault || method === 'HEAD' || status !== 200) {
        res.writeHead(status, headers);
        ur.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        const body = Buffer.concat(chunks);
        const half = body.subarray(0, Math.floor(body.length / 2));
        const sock = res.socket;
        switch (bodyFault) {
          case 'corrupt': {
            if (body.length > 0) body[Math.floor(body.length / 2)]! ^= 0x5a;
            res.writeHead(status, headers);
            res.end(body);
            return;
          }
          case 'length-short': {
            // Announce fewer bytes than the body has and send only those: the client believes it got everything.
            const n = Math.max(0, body.length - 1 - Math.floor(body.length / 3));
            res.writeHead(status, { ...headers, 'content-length': String(n) });
            res.end(body.subarray(0, n));
            return;
          }
          case 'length-long':
            res.writeHead(status, { ...headers, 'content-length': String(body.length + 17) });
            res.write(body);
            // The promised rest never comes.
            setTimeout(() => sock?.destroy(), 50);
            return;
          case 'truncate':
            res.writeHead(status, headers);
            res.write(half);
            setTimeout(() => sock?.end(), 20);
            return;
          case 'reset-mid-body':
            res.writeHead(status, headers);
            res.write(half);
            setTimeout(() => sock?.resetAndDestroy(), 20);
            return;
          default:
        }
      });
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const proxy: TortureProxy = {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    enabled: false,
    seed: opts.seed,
    rate: opts.rate,
    injected: {},
    requests: 0,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  return proxy;
}
