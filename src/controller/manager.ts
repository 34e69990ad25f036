import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { PlaitError, ErrorCodes } from '../errors.js';
import { Store } from '../core/store/index.js';
import { closeAllClients, requestStats } from '../transports/index.js';
import { KubeClient } from './kube/client.js';
import { Informer, objectKey } from './informer.js';
import type { KubeObject } from './informer.js';
import { WorkQueue } from './queue.js';
import { Backoff } from './backoff.js';
import { LeaderElector } from './leader.js';
import { Materialiser } from './resources.js';
import { EventRecorder } from './events.js';
import { Metrics, family, serve } from './metrics.js';
import type { Endpoint } from './metrics.js';
import { GROUP, PLURAL, REQUESTED_AT, Reconciler, VERSION } from './reconciler.js';

// The controller process: (optionally) win the Lease, then list+watch ManifestLists in the watched namespaces, queue
// every object that changed in a way that matters (generation, an on-demand request, deletion) and again after its
// interval, and reconcile at most `concurrent` of them at once — never the same object twice at once. A SIGTERM stops
// new work, lets running reconciles finish, and releases the Lease.

export interface ControllerOptions {
  kubeconfig?: string;
  context?: string;
  /** Empty: every namespace. */
  watchNamespaces: string[];
  labelSelector?: string;
  concurrent: number;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  metricsAddr: string;
  healthAddr: string;
  storeRoot: string;
  logFormat: 'text' | 'json';
  jobs: number;
  /** Failure backoff starts here (default 2 s), capped by each object's retryInterval. */
  backoffInitialMs?: number;
  /** Seconds one watch stays open (default 300). */
  watchSeconds?: number;
}

// client-node is an ES module only, loaded by import(): a static import would become a require() in the CommonJS
// bundle (.ci/bundle.ts), which Node before 20.19 cannot do for an ES module.
export async function loadKubeConfig(file?: string, context?: string): Promise<KubeConfig> {
  const { KubeConfig: Config } = await import('@kubernetes/client-node');
  const kc = new Config();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
    if (context) kc.setCurrentContext(context);
  } catch (e) {
    throw new PlaitError(ErrorCodes.E_INVALID, `kubeconfig${file ? ` ${file}` : ''}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!kc.getCurrentCluster()) throw new PlaitError(ErrorCodes.E_INVALID, `kubeconfig${file ? ` ${file}` : ''}: no current cluster${context ? ` for context ${context}` : ''}`);
  return kc;
}

function logger(format: 'text' | 'json') {
  return (msg: string, fields: Record<string, unknown> = {}, level: 'info' | 'error' = 'info'): void => {
    const ts = new Date().toISOString();
    if (format === 'json') {
      process.stderr.write(`${JSON.stringify({ ts, level, msg, ...fields })}\n`);
    } else {
      const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      process.stderr.write(`${ts} ${level} ${msg}${extra ? ` ${extra}` : ''}\n`);
    }
  };
}

/** What about a change makes it worth a reconcile; status-only updates (our own writes) are not. */
function trigger(o: KubeObject): string {
  return JSON.stringify([o.metadata.generation, o.metadata.annotations?.[REQUESTED_AT], Boolean(o.metadata.deletionTimestamp), o.metadata.uid]);
}

export class Controller {
  private readonly log: ReturnType<typeof logger>;
  private readonly kc: KubeConfig;
  readonly client: KubeClient;
  private readonly queue = new WorkQueue();
  private informers: Informer[] = [];
  private readonly seen = new Map<string, string>();
  private readonly failures = new Map<string, Backoff>();
  private readonly metrics = new Metrics();
  private elector?: LeaderElector;
  private resources?: Materialiser;
  private workers: Promise<void>[] = [];
  private endpoints: Endpoint[] = [];
  private leading = false;
  private synced = false;
  private stopping = false;
  private stopped?: Promise<void>;
  readonly identity = `${hostname()}_${randomUUID()}`;
  /** Resolves when the controller has stopped (a signal), or at once with 1 when the lease was lost. */
  readonly done: Promise<number>;
  private finish!: (code: number) => void;

  /** A controller for `opts`, with its kubeconfig read (a bad one is one E_INVALID line). */
  static async create(opts: ControllerOptions): Promise<Controller> {
    return new Controller(opts, await loadKubeConfig(opts.kubeconfig, opts.context));
  }

  private constructor(private readonly opts: ControllerOptions, kc: KubeConfig) {
    this.log = logger(opts.logFormat);
    this.kc = kc;
    this.client = new KubeClient(this.kc);
    this.done = new Promise((r) => (this.finish = r));
  }

  private leaseNamespace(): string {
    if (this.opts.leaderElectionNamespace) return this.opts.leaderElectionNamespace;
    if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
    return this.kc.getContextObject(this.kc.getCurrentContext())?.namespace ?? 'default';
  }

  async start(): Promise<void> {
    const m = this.metrics;
    m.collect(() => family('plait_workqueue_depth', 'gauge', 'ManifestLists waiting for a worker.', [[{}, this.queue.depth]]));
    m.collect(() => family('plait_workqueue_active', 'gauge', 'ManifestLists being reconciled now.', [[{}, this.queue.active]]));
    m.collect(() => family('plait_leader', 'gauge', '1 while this instance holds the leader lease (or runs without leader election).', [[{}, this.leading ? 1 : 0]]));
    m.collect(() => family('plait_manifestlists', 'gauge', 'ManifestLists this instance watches.', [[{}, this.informers.reduce((n, i) => n + i.cache.size, 0)]]));
    m.collect(() => family('plait_registry_requests_total', 'counter', 'Registry requests by host and HTTP status.',
      [...requestStats].flatMap(([host, s]) => Object.entries(s.byStatus ?? {}).map(([status, n]) => [{ host, status }, n] as [Record<string, string>, number]))));
    m.collect(() => family('plait_kube_requests_total', 'counter', 'Kubernetes API requests by status class.',
      [...this.client.counts].map(([code, n]) => [{ code }, n] as [Record<string, string>, number])));
    m.collect(() => family('plait_watch_relists_total', 'counter', 'Relists after 410 Gone.', [[{}, this.informers.reduce((n, i) => n + i.gone, 0)]]));
    this.endpoints.push(await serve(this.opts.metricsAddr, '--metrics-addr', { '/metrics': () => ({ status: 200, body: m.render(), type: 'text/plain; version=0.0.4; charset=utf-8' }) }));
    this.endpoints.push(await serve(this.opts.healthAddr, '--health-addr', {
      '/healthz': () => (this.stopping ? { status: 503, body: 'stopping\n' } : { status: 200, body: 'ok\n' }),
      '/readyz': () => (this.ready() ? { status: 200, body: 'ok\n' } : { status: 503, body: 'not ready\n' }),
    }));
    // Fail early and plainly when the API cannot be reached or the CRD is missing.
    try {
      await this.client.request('GET', `/apis/${GROUP}/${VERSION}`);
    } catch (e) {
      throw new PlaitError(ErrorCodes.E_NETWORK, `${this.client.server}: the ${GROUP}/${VERSION} API is not served (is the ManifestList CRD installed?): ${(e as Error).message}`);
    }
    this.log(`controller ${this.identity} starting`, {
      namespaces: this.opts.watchNamespaces.length ? this.opts.watchNamespaces.join(',') : '(all)',
      ...(this.opts.labelSelector && { labelSelector: this.opts.labelSelector }),
      concurrent: this.opts.concurrent, leaderElect: this.opts.leaderElect,
      metrics: `${this.opts.metricsAddr.replace(/:\d+$/, '')}:${this.endpoints[0]!.port}`,
      health: `${this.opts.healthAddr.replace(/:\d+$/, '')}:${this.endpoints[1]!.port}`,
    });
    if (this.opts.leaderElect) {
      this.elector = new LeaderElector(this.client, {
        namespace: this.leaseNamespace(), name: this.opts.leaderElectionId, identity: this.identity,
        leaseDurationMs: this.opts.leaseDurationMs, renewDeadlineMs: this.opts.renewDeadlineMs, retryPeriodMs: this.opts.retryPeriodMs,
        onStartedLeading: () => void this.lead().catch((e: unknown) => this.fatal(e)),
        onStoppedLeading: () => {
          // Another instance may be leading already: stop at once, without a graceful drain.
          this.log('lost the leader lease: stopping at once', {}, 'error');
          this.leading = false;
          this.queue.shutdown();
          this.finish(1);
          void this.stop(1);
        },
        log: (msg) => this.log(msg),
      });
      this.elector.start();
    } else {
      await this.lead();
    }
  }

  private ready(): boolean {
    if (this.stopping) return false;
    return !this.opts.leaderElect || !this.leading ? true : this.synced;
  }

  private fatal(e: unknown): void {
    this.log(`fatal: ${(e as Error).message}`, {}, 'error');
    void this.stop(1);
  }

  private async lead(): Promise<void> {
    this.leading = true;
    const store = await Store.open(this.opts.storeRoot);
    this.resources = new Materialiser(this.client);
    const events = new EventRecorder(this.client, { controller: 'plait.dev/controller', instance: this.identity }, (msg) => this.log(msg));
    const reconciler = new Reconciler({ client: this.client, store, resources: this.resources, events, jobs: this.opts.jobs, log: (msg, f) => this.log(msg, f) });
    const paths = this.opts.watchNamespaces.length === 0
      ? [`/apis/${GROUP}/${VERSION}/${PLURAL}`]
      : this.opts.watchNamespaces.map((ns) => `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(ns)}/${PLURAL}`);
    this.informers = paths.map((path) => new Informer(this.client, {
      path, ...(this.opts.labelSelector && { labelSelector: this.opts.labelSelector }),
      ...(this.opts.watchSeconds && { watchSeconds: this.opts.watchSeconds }),
      onError: (e) => this.log(`watch ${path}: ${(e as Error).message}`, {}, 'error'),
    }));
    for (const inf of this.informers) {
      inf.on((type, obj) => {
        const key = objectKey(obj);
        if (type === 'delete') {
          this.seen.delete(key);
          this.failures.delete(key);
          this.queue.forget(key);
          return;
        }
        const t = trigger(obj);
        if (this.seen.get(key) === t) return;
        this.seen.set(key, t);
        this.queue.add(key);
      });
    }
    await Promise.all(this.informers.map((i) => i.start()));
    this.synced = true;
    for (let i = 0; i < this.opts.concurrent; i++) this.workers.push(this.work(reconciler));
  }

  private find(key: string): KubeObject | undefined {
    for (const i of this.informers) {
      const o = i.cache.get(key);
      if (o) return o;
    }
    return undefined;
  }

  private async work(reconciler: Reconciler): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const obj = this.find(key);
      if (!obj) {
        this.queue.done(key);
        continue;
      }
      const started = process.hrtime.bigint();
      let outcome;
      try {
        outcome = await reconciler.reconcile(obj);
      } catch (e) {
        // Writes to the apiserver failed (a conflict, an outage): retry with backoff.
        this.log(`${key}: ${(e as Error).message}`, { outcome: 'error' }, 'error');
        outcome = { result: 'failed' as const, failed: { retryCapMs: 60_000 } };
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.observeReconcile(seconds);
      this.metrics.inc('plait_reconcile_total', 'Reconciles by result.', { result: outcome.result });
      if (outcome.failed) {
        let b = this.failures.get(key);
        if (!b) this.failures.set(key, (b = new Backoff({ initialMs: this.opts.backoffInitialMs ?? 2000, maxMs: Number.MAX_SAFE_INTEGER })));
        this.queue.addAfter(key, Math.min(outcome.failed.retryCapMs, b.next()));
      } else {
        this.failures.delete(key);
        if (outcome.requeueAfterMs !== undefined) this.queue.addAfter(key, outcome.requeueAfterMs);
      }
      this.queue.done(key);
    }
  }

  /** Stop taking work, let running reconciles finish, release the lease. */
  stop(code = 0): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    this.stopped = (async () => {
      this.log('stopping: no new work; waiting for running reconciles');
      this.queue.shutdown();
      await Promise.all(this.workers);
      await Promise.all(this.informers.map((i) => i.stop()));
      await this.elector?.stop();
      await this.resources?.close();
      await closeAllClients();
      await this.client.close();
      for (const e of this.endpoints) e.server.close();
      this.log('stopped');
      this.finish(code);
    })();
    return this.stopped;
  }
}
