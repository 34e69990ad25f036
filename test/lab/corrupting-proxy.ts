import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';

// A loopback HTTP proxy in front of a lab registry that injects faults into chosen requests — the only way to make a
// real registry serve bytes that do not match their digest, fail transiently, or redirect blob downloads.

export type Fault =
  | { kind: 'corrupt' }
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  | { kind: 'redirect'; location: string }
  | { kind: 'reset' };

export interface SeenRequest { method: string; path: string; headers: IncomingHttpHeaders }

export interface FaultProxy {
  host: string;
  url: string;
  /** Decide per request; undefined passes it through untouched. */
  fault: (method: string, path: string, headers: IncomingHttpHeaders) => Fault | undefined;
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
    if (f?.kind === 'status') {
      req.resume();
      res.writeHead(f.status, { 'content-type': 'application/json', ...f.headers });
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected by the lab proxy' }] }));
      return;
    }
    if (f?.kind === 'redirect') {
      req.resume();
      res.writeHead(307, { location: f.location });
      res.end();
      return;
    }
    if (f?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    const up = request({ host: thost, port: Number(tport), method, path, headers: { ...req.headers, host: targetHost } }, (ur) => {
      const bad = f?.kind === 'corrupt' && (ur.statusCode ?? 0) === 200 && method === 'GET';
      // Rewrite Location headers so uploads come back through the proxy.
      const headers = { ...ur.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`http://${targetHost}`, proxy.url);
      res.writeHead(ur.statusCode ?? 502, headers);
      if (!bad) {
        ur.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        const body = Buffer.concat(chunks);
        if (body.length > 0) {
          const i = Math.floor(body.length / 2);
          body[i] = body[i]! ^ 0xff;
          proxy.corrupted++;
        }
        res.end(body);
      });
    });
    up.on('error', () => {
      res.writeHead(502);
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
