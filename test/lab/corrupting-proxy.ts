import { createServer, request } from 'node:http';
import type { Server } from 'node:http';

// A loopback HTTP proxy in front of a lab registry that can flip one byte of chosen responses — the only way to make
// a real registry serve bytes that do not match their digest.

export interface CorruptingProxy {
  host: string;
  url: string;
  /** Responses whose request path matches are corrupted (one byte in the middle flipped). */
  corrupt: (method: string, path: string) => boolean;
  corrupted: number;
  close(): Promise<void>;
}

export async function startCorruptingProxy(targetHost: string, corrupt: CorruptingProxy['corrupt']): Promise<CorruptingProxy> {
  const state = { corrupted: 0 };
  const [thost, tport] = targetHost.split(':');
  const server: Server = createServer((req, res) => {
    const up = request({ host: thost, port: Number(tport), method: req.method, path: req.url, headers: { ...req.headers, host: targetHost } }, (ur) => {
      const bad = proxy.corrupt(req.method ?? 'GET', req.url ?? '') && (ur.statusCode ?? 0) === 200 && req.method === 'GET';
      // Rewrite Location headers so uploads and redirects come back through the proxy.
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
          state.corrupted++;
          proxy.corrupted = state.corrupted;
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
  const proxy: CorruptingProxy = {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    corrupt,
    corrupted: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return proxy;
}
