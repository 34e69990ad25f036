import { Agent, request } from '../../transports/http.js';
import type { Dispatcher } from 'undici';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { PlaitError, ErrorCodes } from '../../errors.js';

// A small Kubernetes REST client. @kubernetes/client-node loads kubeconfigs, in-cluster service-account tokens (re-read
// as they rotate) and auth plugins; every request asks it for the current TLS material and Authorization header, and
// undici does the HTTP. The generated 1.x API layer is not used: it sends JSON patches where a merge patch was meant,
// serialises times with milliseconds where the apiserver wants microseconds, and its watch has no backoff — a
// controller wants all of that under its own control.

export interface KubeStatus {
  status: number;
  reason: string;
  message: string;
}

/** A non-2xx answer of the apiserver (or no answer at all: status 0). */
export class KubeError extends Error implements KubeStatus {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
  }
}

export function isKubeError(e: unknown, status?: number): e is KubeError {
  return e instanceof KubeError && (status === undefined || e.status === status);
}

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Milliseconds before the request is abandoned (default 30 s). */
  timeoutMs?: number;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

interface Connection {
  server: string;
  headers: Record<string, string>;
  dispatcher: Dispatcher;
}

export class KubeClient {
  private readonly agents = new Map<string, Agent>();
  /** Requests answered, by HTTP status class, for the controller's metrics. */
  readonly counts = new Map<string, number>();

  constructor(readonly config: KubeConfig) {}

  get server(): string {
    const c = this.config.getCurrentCluster();
    if (!c) throw new PlaitError(ErrorCodes.E_INVALID, 'kubeconfig: no current cluster');
    return c.server.replace(/\/+$/, '');
  }

  private async connection(): Promise<Connection> {
    const opts: { ca?: unknown; cert?: unknown; key?: unknown; rejectUnauthorized?: boolean; headers?: Record<string, unknown>; auth?: string } = {};
    await this.config.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    // One agent per TLS identity: rotating client certificates get a fresh pool, an unchanged one keeps its sockets.
    const tls = { ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized: opts.rejectUnauthorized };
    const id = createHash('sha256').update(JSON.stringify(tls, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v))).digest('hex');
    let agent = this.agents.get(id);
    if (!agent) {
      agent = new Agent({
        connect: {
          ...(tls.ca !== undefined && { ca: tls.ca as string }),
          ...(tls.cert !== undefined && { cert: tls.cert as string }),
          ...(tls.key !== undefined && { key: tls.key as string }),
          ...(tls.rejectUnauthorized !== undefined && { rejectUnauthorized: tls.rejectUnauthorized }),
        },
        keepAliveTimeout: 30_000,
      });
      this.agents.set(id, agent);
    }
    return { server: this.server, headers, dispatcher: agent };
  }

  private url(server: string, path: string, query?: RequestOptions['query']): string {
    const u = new URL(server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  private count(status: number): void {
    const key = status === 0 ? 'error' : `${Math.floor(status / 100)}xx`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  async request<T = Record<string, unknown>>(method: Dispatcher.HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const c = await this.connection();
    const timeout = opts.timeoutMs ?? 30_000;
    const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeout)]) : AbortSignal.timeout(timeout);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.url(c.server, path, opts.query), {
        method,
        dispatcher: c.dispatcher,
        signal,
        headers: {
          ...c.headers,
          accept: 'application/json',
          ...(opts.body !== undefined && { 'content-type': opts.contentType ?? 'application/json' }),
        },
        ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
      });
    } catch (e) {
      this.count(0);
      throw new KubeError(0, 'NetworkError', `${method} ${path}: ${(e as Error).message}`);
    }
    this.count(res.statusCode);
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return (text === '' ? {} : JSON.parse(text)) as T;
    throw statusError(res.statusCode, text, `${method} ${path}`);
  }

  /**
   * One watch request: calls onEvent for each event until the server ends the stream, onEvent returns false, or the
   * signal aborts (all resolve), or the request fails (rejects with a KubeError; 410 when the resourceVersion is too
   * old at the start — an in-stream expiry arrives as an ERROR event instead).
   */
  async watch(path: string, query: RequestOptions['query'], onEvent: (e: WatchEvent) => boolean | void, signal: AbortSignal): Promise<void> {
    const c = await this.connection();
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.url(c.server, path, { ...query, watch: true }), {
        method: 'GET', dispatcher: c.dispatcher, signal, headers: { ...c.headers, accept: 'application/json' },
        // The server ends a watch after timeoutSeconds; a silent connection beyond that is a dead one.
        bodyTimeout: (Number(query?.timeoutSeconds ?? 300) + 30) * 1000,
      });
    } catch (e) {
      if (signal.aborted) return;
      this.count(0);
      throw new KubeError(0, 'NetworkError', `watch ${path}: ${(e as Error).message}`);
    }
    this.count(res.statusCode);
    if (res.statusCode !== 200) throw statusError(res.statusCode, await res.body.text(), `watch ${path}`);
    const lines = createInterface({ input: res.body, crlfDelay: Infinity });
    let stopped = false;
    try {
      for await (const line of lines) {
        if (line.trim() === '') continue;
        if (onEvent(JSON.parse(line) as WatchEvent) === false) {
          stopped = true;
          break;
        }
      }
    } catch (e) {
      if (signal.aborted || stopped) return;
      throw new KubeError(0, 'NetworkError', `watch ${path}: ${(e as Error).message}`);
    } finally {
      lines.close();
      res.body.destroy();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }
}

function statusError(status: number, text: string, what: string): KubeError {
  let reason = '';
  let message = text.slice(0, 500);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? '';
    message = s.message ?? message;
  } catch {
    // not a Status object: keep the text
  }
  return new KubeError(status, reason || `HTTP${status}`, `${what}: ${status} ${reason}${message ? `: ${message}` : ''}`);
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits, which Events and Leases require. */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** metav1.Time: RFC 3339 in whole seconds. */
export function metaTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
