import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';

// A loopback HTTP proxy in front of a lab registry that injects faults into chosen requests — the only way to make a
// real registry serve bytes that do not match their digest, fail transiently, stall, cut a body short or redirect blob
// downloads. The integration tests pick faults per request by hand; the torture runs pick them by seed.

export type Fault =
  /** A byte in the middle of a 200 GET body flipped; the length stays right. */
  | { kind: 'corrupt' }
  | { kind: 'status'; status: number; headers?: Record<string, string>; code?: string; message?: string }
  | { kind: 'redirect'; location: string }
  /** The connection dropped before any answer. */
  | { kind: 'reset' }
  /** The request read, no answer ever: only the client's timeout ends it. */
  | { kind: 'stall' }
  /** Half of a 200 GET body, then the connection ends cleanly (fewer bytes than Content-Length). */
  | { kind: 'truncate' }
  /** Half of a 200 GET body, then a TCP reset. */
  | { kind: 'reset-mid-body' }
  /** Content-Length lowered to two thirds of the body and only that much sent: the client believes it got it all. */
  | { kind: 'length-short' }
  /** Content-Length raised by 17 bytes; the whole body, then silence, then the connection drops. */
  | { kind: 'length-long' };

export type FaultKind = Fault['kind'];

/** Faults that damage the body of a 200 GET answer (elsewhere they pass the answer through untouched). */
export const BODY_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>(['corrupt', 'truncate', 'reset-mid-body', 'length-short', 'length-long']);

export interface SeenRequest { method: string; path: string; headers: IncomingHttpHeaders }

export interface FaultProxy {
  host: string;
  url: string;
  /** Decide per request; undefined passes it through untouched. */
  fault: (method: string, path: string, headers: IncomingHttpHeaders) => Fault | undefined;
  /** Answers whose body a body fault damaged. */
  corrupted: number;
  seen: SeenRequest[];
  /** Most requests the proxy had open at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startFaultProxy(targetHost: string, fault: FaultProxy['fault']): Promise<FaultProxy> {
  const [thost, tport] = targetHost.split(':');
  let inFlight = 0;
  const server: Server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    proxy.seen.push({ method, path, headers: req.headers });
    inFlight++;
    proxy.maxInFlight = Math.max(proxy.maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const f = proxy.fault(method, path, req.headers);
    switch (f?.kind) {
      case 'status':
        req.resume();
        res.writeHead(f.status, { 'content-type': 'application/json', ...f.headers });
        res.end(JSON.stringify({ errors: [{ code: f.code ?? (f.status === 401 ? 'UNAUTHORIZED' : 'UNAVAILABLE'), message: f.message ?? 'injected by the lab proxy' }] }));
        return;
      case 'redirect':
        req.resume();
        res.writeHead(307, { location: f.location });
        res.end();
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'stall':
        req.resume();
        return;
      default:
    }
    const up = request({ host: thost, port: Number(tport), method, path, headers: { ...req.headers, host: targetHost } }, (ur) => {
      const status = ur.statusCode ?? 502;
      // Rewrite Location headers so uploads come back through the proxy.
      const headers = { ...ur.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`http://${targetHost}`, proxy.url);
      if (!f || !BODY_FAULTS.has(f.kind) || status !== 200 || method !== 'GET') {
        res.writeHead(status, headers);
        ur.pipe(res);
        return;
      }
      // Manifests and small blobs only (the lab's fixtures): the body is damaged as a whole.
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        const body = Buffer.concat(chunks);
        const sock = res.socket;
        if (body.length > 0) proxy.corrupted++;
        switch (f.kind) {
          case 'corrupt':
            if (body.length > 0) body[Math.floor(body.length / 2)]! ^= 0xff;
            res.writeHead(status, headers);
            res.end(body);
            return;
          case 'length-short': {
            const n = Math.max(0, body.length - 1 - Math.floor(body.length / 3));
            res.writeHead(status, { ...headers, 'content-length': String(n) });
            res.end(body.subarray(0, n));
            return;
          }
          case 'length-long':
            res.writeHead(status, { ...headers, 'content-length': String(body.length + 17) });
            res.write(body);
            setTimeout(() => sock?.destroy(), 50);
            return;
          case 'truncate':
            res.writeHead(status, headers);
            res.write(body.subarray(0, Math.floor(body.length / 2)));
            setTimeout(() => sock?.end(), 20);
            return;
          default:
            res.writeHead(status, headers);
            res.write(body.subarray(0, Math.floor(body.length / 2)));
            setTimeout(() => sock?.resetAndDestroy(), 20);
        }
      });
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const proxy: FaultProxy = {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    fault,
    corrupted: 0,
    seen: [],
    maxInFlight: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return proxy;
}

/** The common case: corrupt the responses whose request matches. */
export function startCorruptingProxy(targetHost: string, match: (method: string, path: string) => boolean): Promise<FaultProxy> {
  return startFaultProxy(targetHost, (m, p) => (match(m, p) ? { kind: 'corrupt' } : undefined));
}
