import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PlaitError, ErrorCodes } from '../errors.js';

// The controller's Prometheus metrics (text exposition format 0.0.4) and its health endpoints, each on its own port as
// controller-runtime does: a scrape can never starve a probe, and the health port can stay cluster-internal.

const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

type Labels = Record<string, string>;

function labelText(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, { labels: Labels; v: number }> }>();
  private readonly hist = { counts: new Array<number>(BUCKETS.length).fill(0), sum: 0, count: 0 };
  /** Gauges and counters read at scrape time from their owners. */
  private readonly collectors: Array<() => string[]> = [];

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const key = labelText(labels);
    const e = c.values.get(key) ?? { labels, v: 0 };
    e.v += by;
    c.values.set(key, e);
  }

  observeReconcile(seconds: number): void {
    this.hist.sum += seconds;
    this.hist.count++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.hist.counts[i]!++;
  }

  collect(fn: () => string[]): void {
    this.collectors.push(fn);
  }

  render(): string {
    const out: string[] = [];
    out.push('# HELP plait_reconcile_duration_seconds Time one ManifestList reconcile took.', '# TYPE plait_reconcile_duration_seconds histogram');
    BUCKETS.forEach((b, i) => out.push(`plait_reconcile_duration_seconds_bucket{le="${b}"} ${this.hist.counts[i]}`));
    out.push(`plait_reconcile_duration_seconds_bucket{le="+Inf"} ${this.hist.count}`);
    out.push(`plait_reconcile_duration_seconds_sum ${this.hist.sum}`, `plait_reconcile_duration_seconds_count ${this.hist.count}`);
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const { labels, v } of c.values.values()) out.push(`${name}${labelText(labels)} ${v}`);
    }
    for (const fn of this.collectors) out.push(...fn());
    return out.join('\n') + '\n';
  }
}

/** `gauge`/`counter` lines for a family whose values are read at scrape time. */
export function family(name: string, type: 'gauge' | 'counter', help: string, values: Array<[Labels, number]>): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...values.map(([l, v]) => `${name}${labelText(l)} ${v}`)];
}

/** host:port, :port or port → listen arguments. */
export function parseAddr(addr: string, flag: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new PlaitError(ErrorCodes.E_INVALID, `${flag} must be [HOST]:PORT, not ${JSON.stringify(addr)}`);
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export interface Endpoint {
  server: Server;
  port: number;
}

export async function serve(addr: string, flag: string, routes: Record<string, () => { status: number; body: string; type?: string }>): Promise<Endpoint> {
  const { host, port } = parseAddr(addr, flag);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const r = route();
    res.writeHead(r.status, { 'content-type': r.type ?? 'text/plain; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : r.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new PlaitError(ErrorCodes.E_INVALID, `${flag} ${addr}: ${(e).message}`)));
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return { server, port: (server.address() as AddressInfo).port };
}
