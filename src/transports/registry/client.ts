import { createHash } from 'node:crypto';
import { Agent, request } from '../http.js';
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { PlaitError, ErrorCodes, isPlaitError } from '../../errors.js';
import { USER_AGENT } from '../../version.js';
import { parseChallenges } from './challenge.js';
import type { Challenge } from './challenge.js';
import { findCredentials } from './credentials.js';
import type { Credentials, CredentialOptions } from './credentials.js';
import { loadTlsFiles, connectOptions } from './tls.js';
import { flagRemedies, isTlsFailure, tlsError } from './tls-errors.js';
import type { TlsRemedies } from './tls-errors.js';
import { registryError } from './errors.js';
import { Semaphore } from './semaphore.js';
import { interruptSignal, interruptedError, isInterrupted, throwIfInterrupted } from '../interrupt.js';

// One RegistryClient per registry host: one connection pool, a token cache per scope set, a concurrency limit, a
// request counter, and retries of what can safely be retried. Unlike containers/image it does not ping /v2/ before
// working: it learns the auth challenges from the first 401 any request gets (the distribution spec sends them on
// every 401) and replays that request with credentials — so a no-op reconcile costs exactly one HEAD per tag.

export interface RetryPolicy {
  /** Attempts in all, first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Give up retrying once this much time has gone by since the first attempt. */
  budgetMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8000, budgetMs: 60_000 };

export interface RegistryClientOptions extends CredentialOptions {
  /** Verify the server certificate (default true). With false, plain HTTP is tried when TLS fails, as skopeo does. */
  tlsVerify?: boolean;
  /** Speak plain HTTP to this registry (explicit only, never a silent fallback). */
  plainHttp?: boolean;
  certDir?: string;
  maxConcurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Credentials already resolved by the caller (skips the lookup). */
  credentials?: Credentials | null;
  /** How hints name the flags of the side this registry is reached from ("--dest-", "--src-", "--"). */
  flagPrefix?: string;
  /** What TLS hints tell a user who has no flags (the controller's); the flags otherwise. */
  tlsRemedies?: TlsRemedies;
}

export interface RequestStats {
  requests: number;
  byMethod: Record<string, number>;
  /** Answers by HTTP status ("error" for none), for the controller's metrics. */
  byStatus: Record<string, number>;
  bytesSent: number;
  bytesReceived: number;
}

/** Requests per host, for tests and benches. */
export const requestStats = new Map<string, RequestStats>();

export function resetRequestStats(): void {
  requestStats.clear();
}

function countRequest(host: string, method: string) {
  let s = requestStats.get(host);
  if (!s) {
    s = { requests: 0, byMethod: {}, byStatus: {}, bytesSent: 0, bytesReceived: 0 };
    requestStats.set(host, s);
  }
  s.requests++;
  s.byMethod[method] = (s.byMethod[method] ?? 0) + 1;
}

function countStatus(host: string, status: number | 'error') {
  const s = requestStats.get(host);
  if (s) s.byStatus[String(status)] = (s.byStatus[String(status)] ?? 0) + 1;
}

export type Action = 'pull' | 'push' | 'delete';

export interface Scope {
  repository: string;
  actions: Action[];
}

export function scopeString(s: Scope): string {
  return `repository:${s.repository}:${[...s.actions].sort().join(',')}`;
}

export interface RegistryRequest {
  method: Dispatcher.HttpMethod;
  /** Path beginning with /v2/, or an absolute URL (upload locations, redirects). */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  scopes: Scope[];
  /** Human words for errors: "fetching manifest app:1.0". */
  what: string;
  /** Whether sending it again is safe (no streamed body). Defaults to true unless body is a stream. */
  idempotent?: boolean;
  /** Statuses that are not errors; others become PlaitErrors. Default: 2xx. */
  ok?: (status: number) => boolean;
  /** Sent even after an interrupt (cancelling an upload on the way out). */
  uninterruptible?: boolean;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: string;
}

interface Token { value: string; expiresAt: number }

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as { code?: string }).code;
    if (code && NETWORK_CODES.has(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * How long a registry may stay silent (waiting for headers, or between two body chunks) before the request fails as a
 * network error (retried when safe). PLAIT_REGISTRY_TIMEOUT in seconds; default 300 s, undici's own.
 */
export function requestTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.PLAIT_REGISTRY_TIMEOUT;
  if (v === undefined || v === '') return 300_000;
  const secs = Number(v);
  if (!Number.isFinite(secs) || secs <= 0) {
    throw new PlaitError(ErrorCodes.E_INVALID, `PLAIT_REGISTRY_TIMEOUT must be a positive number of seconds, not ${JSON.stringify(v)}`);
  }
  return Math.round(secs * 1000);
}
/** A retry's wait, cut short by an interrupt (the next attempt then refuses to start). */
const sleep = (ms: number) => new Promise<void>((resolve) => {
  const done = () => {
    clearTimeout(timer);
    interruptSignal.removeEventListener('abort', done);
    resolve();
  };
  const timer = setTimeout(done, ms);
  interruptSignal.addEventListener('abort', done, { once: true });
});

export function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export class RegistryClient {
  readonly host: string;
  private readonly opts: RegistryClientOptions;
  private readonly retry: RetryPolicy;
  private readonly sem: Semaphore;
  private agent?: Agent;
  private pinged?: Promise<{ base: string; challenges: Challenge[] }>;
  /** The scheme and host once known (from a ping or the first answered request). */
  private base?: string;
  /** The auth challenges once a 401 (or a ping) has told them; undefined: none seen yet. */
  private challenges?: Challenge[];
  private credentials?: Promise<Credentials | undefined>;
  private readonly tokens = new Map<string, Token>();
  private readonly tokenFetches = new Map<string, Promise<Token>>();

  constructor(host: string, opts: RegistryClientOptions = {}) {
    this.host = host;
    this.opts = opts;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.sem = new Semaphore(opts.maxConcurrency ?? 8);
  }

  private async dispatcher(): Promise<Agent> {
    if (this.agent) return this.agent;
    const files = await loadTlsFiles(this.host, this.opts.certDir);
    const timeout = requestTimeoutMs();
    this.agent = new Agent({
      connect: connectOptions(files, this.opts.tlsVerify !== false),
      connections: 16,
      keepAliveTimeout: 10_000,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    return this.agent;
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }

  private creds(repository?: string): Promise<Credentials | undefined> {
    if (this.opts.credentials !== undefined) return Promise.resolve(this.opts.credentials ?? undefined);
    // One set of credentials per client; namespace-scoped keys are resolved with the first repository we are used for.
    this.credentials ??= findCredentials(this.host, repository, this.opts);
    return this.credentials;
  }

  /** GET /v2/ once: learns the scheme (https, or http when allowed) and the challenges. */
  ping(): Promise<{ base: string; challenges: Challenge[] }> {
    this.pinged ??= this.doPing().catch((e: unknown) => {
      this.pinged = undefined;
      throw e;
    });
    return this.pinged;
  }

  private async doPing(): Promise<{ base: string; challenges: Challenge[] }> {
    throwIfInterrupted();
    const agent = await this.dispatcher();
    const schemes = this.opts.plainHttp ? ['http'] : this.opts.tlsVerify === false ? ['https', 'http'] : ['https'];
    let lastErr: unknown;
    for (const scheme of schemes) {
      const base = `${scheme}://${this.host}`;
      try {
        countRequest(this.host, 'GET');
        const res = await request(`${base}/v2/`, { method: 'GET', headers: this.baseHeaders(), dispatcher: agent, signal: interruptSignal });
        await res.body.dump();
        if (res.statusCode !== 200 && res.statusCode !== 401) {
          throw registryError(this.host, 'pinging /v2/', res.statusCode, '');
        }
        this.base = base;
        this.challenges = res.statusCode === 401 ? parseChallenges(res.headers['www-authenticate']) : [];
        return { base, challenges: this.challenges };
      } catch (e) {
        lastErr = e;
        if (isInterrupted()) throw interruptedError();
        if (isPlaitError(e)) throw e;
      }
    }
    if (isTlsFailure(lastErr)) throw this.tlsError(lastErr);
    throw new PlaitError(ErrorCodes.E_NETWORK, `${this.host}: cannot reach registry: ${describeNetworkError(lastErr)}`, { cause: lastErr, retryable: true });
  }

  private tlsError(e: unknown): PlaitError {
    return tlsError(this.host, e, {
      remedies: this.opts.tlsRemedies ?? flagRemedies(this.opts.flagPrefix ?? '--'),
      ...(this.opts.certDir !== undefined && { certDir: this.opts.certDir }),
    });
  }

  private baseHeaders(): Record<string, string> {
    return { 'user-agent': USER_AGENT, 'docker-distribution-api-version': 'registry/2.0' };
  }

  /** The Authorization header for these scopes, or undefined when the registry asked for none. */
  private async authorization(scopes: Scope[], forceRefresh = false): Promise<string | undefined> {
    const challenges = this.challenges ?? [];
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const first = challenges[0];
    if (!first) return undefined;
    const creds = await this.creds(scopes[0]?.repository);
    if (first.scheme === 'basic' || (!bearer && basic)) {
      if (!creds) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    if (!bearer) {
      throw new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED, `${this.host}: unsupported authentication scheme "${first.scheme}"`);
    }
    const key = scopes.map(scopeString).sort().join(' ');
    const cached = this.tokens.get(key);
    if (!forceRefresh && cached && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`;
    let fetching = this.tokenFetches.get(key);
    if (!fetching || forceRefresh) {
      fetching = this.fetchToken(bearer, scopes, creds).finally(() => this.tokenFetches.delete(key));
      this.tokenFetches.set(key, fetching);
    }
    const token = await fetching;
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  private async fetchToken(ch: Challenge, scopes: Scope[], creds: Credentials | undefined): Promise<Token> {
    const realm = ch.params.realm;
    if (!realm) throw new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED, `${this.host}: Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED, `${this.host}: Bearer realm is not a URL`);
    }
    if (creds && !realmAllowed(url.hostname, this.host)) {
      throw new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED,
        `${this.host}: the token realm ${url.host} is on another host; credentials are not sent there (allow it with PLAIT_TOKEN_REALM_HOSTS=${url.hostname})`);
    }
    const agent = await this.dispatcher();
    const headers: Record<string, string> = { ...this.baseHeaders() };
    let method: Dispatcher.HttpMethod = 'GET';
    let body: string | undefined;
    const scopeStrings = scopes.map(scopeString);
    if (creds?.identityToken) {
      // OAuth2 refresh-token grant, as containers/image does for auth.json identity tokens.
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'plait' });
      if (ch.params.service) form.set('service', ch.params.service);
      for (const s of scopeStrings) form.append('scope', s);
      body = form.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (creds?.username) url.searchParams.set('account', creds.username);
      if (ch.params.service) url.searchParams.set('service', ch.params.service);
      for (const s of scopeStrings) url.searchParams.append('scope', s);
      if (creds && (creds.username || creds.password)) {
        headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
    }
    countRequest(url.host, method);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method, headers, body, dispatcher: agent });
    } catch (e) {
      throw new PlaitError(ErrorCodes.E_NETWORK, `${this.host}: token endpoint ${url.host}: ${describeNetworkError(e)}`, { cause: e, retryable: true });
    }
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED,
        `${this.host}: authentication failed${creds ? ` for user "${creds.username}"` : ' (no credentials found)'}: the token endpoint answered ${res.statusCode}`);
    }
    if (res.statusCode !== 200) {
      throw registryError(this.host, 'fetching a token', res.statusCode, text);
    }
    let parsed: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED, `${this.host}: the token endpoint did not answer JSON`);
    }
    const value = parsed.token ?? parsed.access_token;
    if (!value) throw new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED, `${this.host}: the token endpoint answered no token`);
    // Like containers/image: lifetimes under 60 s are raised to 60 s; refresh a little before the end.
    const expiresIn = Math.max(60, typeof parsed.expires_in === 'number' ? parsed.expires_in : 60);
    const issued = parsed.issued_at ? Date.parse(parsed.issued_at) : NaN;
    const issuedAt = Number.isFinite(issued) ? Math.min(issued, Date.now()) : Date.now();
    return { value, expiresAt: issuedAt + expiresIn * 1000 - 5000 };
  }

  /**
   * Send one request with auth, the concurrency limit and retries. The caller must consume or dump the body.
   * Non-ok statuses are turned into PlaitErrors (body read for the message).
   */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const agent = await this.dispatcher();
    const streamed = !!(req.body && typeof req.body === 'object' && 'pipe' in req.body);
    // A streamed body cannot be replayed after a 401, so learn scheme and challenges first in that (rare) case.
    if (streamed && this.challenges === undefined) await this.ping();
    const absolute = req.path.startsWith('http://') || req.path.startsWith('https://');
    // Without --tls-verify=false only https is tried; with it, http is the fallback (as skopeo does); --plain-http
    // goes straight to http.
    let base = this.base ?? (this.opts.plainHttp ? `http://${this.host}` : `https://${this.host}`);
    const idempotent = req.idempotent ?? !streamed;
    const ok = req.ok ?? ((s: number) => s >= 200 && s < 300);
    const started = Date.now();
    let refreshedForScope = false;
    let learnedChallenges = false;
    for (let attempt = 1; ; attempt++) {
      // After Ctrl-C nothing new starts; what is in flight is aborted through the signal.
      if (!req.uninterruptible) throwIfInterrupted();
      const url = absolute ? req.path : `${base}${req.path}`;
      // Authorization never crosses to another host: an upload Location or a redirect elsewhere gets none.
      const auth = absolute && !sameHost(url, this.host) ? undefined : await this.authorization(req.scopes);
      const headers: Record<string, string> = { ...this.baseHeaders(), ...req.headers };
      if (auth) headers.authorization = auth;
      let res: Dispatcher.ResponseData;
      const release = await this.sem.acquire();
      try {
        countRequest(this.host, req.method);
        // undici closes the connection after every HEAD unless told not to (a guard against servers that send a body
        // anyway); registries do not, and a no-op reconcile is nothing but HEADs.
        res = await request(url, {
          method: req.method, headers, body: req.body, dispatcher: agent,
          ...(req.method === 'HEAD' && { reset: false }), ...(!req.uninterruptible && { signal: interruptSignal }),
        });
      } catch (e) {
        release();
        countStatus(this.host, 'error');
        if (!req.uninterruptible && isInterrupted()) throw interruptedError();
        // A failure of our own body stream (say, a digest mismatch while uploading) is the real cause: keep it.
        const own = ownError(e);
        if (own) throw own;
        // https failed where http is allowed and not known to be wrong (another request may have found http already).
        if (!absolute && this.base !== base && this.opts.tlsVerify === false && !this.opts.plainHttp && base.startsWith('https:') && !streamed) {
          base = `http://${this.host}`;
          attempt--;
          continue;
        }
        const net = networkCode(e);
        if (net && idempotent && this.mayRetry(attempt, started)) {
          await sleep(this.backoff(attempt));
          continue;
        }
        if (isTlsFailure(e)) throw this.tlsError(e);
        throw new PlaitError(ErrorCodes.E_NETWORK, `${this.host}: ${req.what}: ${describeNetworkError(e)}`, { cause: e, retryable: net !== undefined });
      }
      release();
      const status = res.statusCode;
      countStatus(this.host, status);
      if (!absolute) this.base ??= base;
      if (status === 401 && !learnedChallenges && !streamed && !auth) {
        // The registry tells what it wants; replay once with credentials for it.
        // Per-request parts (error, scope) are not part of what the registry asks for in general.
        const chs = parseChallenges(res.headers['www-authenticate']).map((c) => ({
          scheme: c.scheme, params: Object.fromEntries(Object.entries(c.params).filter(([k]) => k !== 'error' && k !== 'scope')),
        }));
        // Sent without credentials: learn what it wants (another request may have learned it meanwhile) and replay.
        if (chs.length > 0) {
          this.challenges = chs;
          learnedChallenges = true;
          await res.body.dump();
          attempt--;
          continue;
        }
      }
      if (this.challenges === undefined && ok(status)) this.challenges = [];
      if (ok(status)) return { status, headers: res.headers, body: res.body, url };

      // A token with too narrow a scope: fetch a fresh one once (body-less requests only, like containers/image).
      if (status === 401 && !refreshedForScope && idempotent) {
        const chs = parseChallenges(res.headers['www-authenticate']);
        if (chs.some((c) => c.scheme === 'bearer' && c.params.error === 'insufficient_scope') || chs.some((c) => c.params.error === 'invalid_token')) {
          await res.body.dump();
          refreshedForScope = true;
          await this.authorization(req.scopes, true);
          continue;
        }
      }
      // 500 too, for what can be sent again: distribution answers it for a moment under concurrent writers of a tag.
      if ((status === 429 || (status >= 500 && status <= 504 && status !== 501)) && idempotent && this.mayRetry(attempt, started)) {
        const wait = status === 429 ? retryAfterMs(res.headers['retry-after']) ?? this.backoff(attempt) : this.backoff(attempt);
        await res.body.dump();
        if (Date.now() - started + wait <= this.retry.budgetMs) {
          // Retry-After is honoured as the registry asks, up to a minute (containers/image's cap).
          await sleep(Math.min(wait, 60_000));
          continue;
        }
        throw registryError(this.host, req.what, status, '');
      }
      const text = req.method === 'HEAD' ? '' : await res.body.text().catch(() => '');
      if (req.method === 'HEAD') await res.body.dump();
      if (status === 401) {
        const creds = await this.creds(req.scopes[0]?.repository);
        // A token that expired or was revoked while in use (a streamed body cannot be replayed with a fresh one) is not
        // a question of the user's rights: say what the registry said.
        const rejected = auth?.startsWith('Bearer ') && parseChallenges(res.headers['www-authenticate']).some((c) => c.params.error === 'invalid_token');
        const why = rejected ? 'the registry rejected the token as expired or invalid (invalid_token)'
          : creds ? `access denied for user "${creds.username}"` : 'authentication required (no credentials found; use --creds or --authfile)';
        throw new PlaitError(ErrorCodes.E_REGISTRY_UNAUTHORIZED, `${this.host}: ${req.what}: ${why}`, { details: { status } });
      }
      throw registryError(this.host, req.what, status, text);
    }
  }

  private mayRetry(attempt: number, started: number): boolean {
    return attempt < this.retry.attempts && Date.now() - started < this.retry.budgetMs;
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    // Full jitter keeps many clients from retrying in lock-step.
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }
}

function hostnameOf(hostPort: string): string {
  return new URL(`http://${hostPort}`).hostname;
}

function sameHost(url: string, host: string): boolean {
  try {
    return new URL(url).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

/**
 * Where a registry's credentials may go to fetch a token: the registry's own host name (any port); a host of the same
 * parent domain (registry-1.docker.io → auth.docker.io, registry.gitlab.com → gitlab.com) when that parent has at least
 * two labels; or a host named in PLAIT_TOKEN_REALM_HOSTS (comma-separated). A realm anywhere else is refused: a
 * registry must not be able to send its users' passwords to a third party.
 */
export function realmAllowed(realmHost: string, registryHost: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const realm = realmHost.toLowerCase().replace(/^\[|\]$/g, '');
  const reg = hostnameOf(registryHost).toLowerCase().replace(/^\[|\]$/g, '');
  if (realm === reg) return true;
  const allowed = (env.PLAIT_TOKEN_REALM_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (allowed.includes(realm)) return true;
  if (/^[\d.]+$/.test(reg) || reg.includes(':')) return false;
  const labels = reg.split('.');
  if (labels.length < 3) return false;
  const parent = labels.slice(1).join('.');
  return realm === parent || realm.endsWith(`.${parent}`);
}

function ownError(e: unknown): PlaitError | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    if (isPlaitError(cur)) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export function describeNetworkError(e: unknown): string {
  const code = networkCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  return code ? `${code} (${msg})` : msg;
}

const clients = new Map<string, RegistryClient>();

/** Clients are shared per host and option set, so tokens and connections are reused across images. */
export function clientFor(host: string, opts: RegistryClientOptions = {}): RegistryClient {
  // Secrets take part in the key only as a hash, so that two different --creds never share a token cache.
  const secret = (v: unknown) => (v ? createHash('sha256').update(JSON.stringify(v)).digest('hex') : undefined);
  const key = `${host}\u0000${JSON.stringify({ ...opts, credentials: secret(opts.credentials), creds: secret(opts.creds) })}`;
  let c = clients.get(key);
  if (!c) {
    c = new RegistryClient(host, opts);
    clients.set(key, c);
  }
  return c;
}

export async function closeAllClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.all(all.map((c) => c.close()));
}
