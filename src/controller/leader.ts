import { isKubeError, microTime } from './kube/client.js';
import type { KubeClient } from './kube/client.js';
import { sleep } from './backoff.js';

// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate takes the lease only when
// its holder has not renewed it for leaseDuration, measured on the candidate's own clock from when it last saw the
// record change (never from the timestamps in it, so clock skew between pods does not matter); the leader renews every
// retryPeriod and gives up leadership when it could not renew for renewDeadline; every write carries the
// resourceVersion it read, so two candidates can never both win. On a clean stop the leader releases the lease
// (holder cleared, duration 1 s) so that a successor takes over at once instead of after leaseDuration.

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading: () => void;
  /** Leadership was lost (not released): the caller must stop all work at once. */
  onStoppedLeading: () => void;
  log?: (msg: string) => void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export class LeaderElector {
  private observed?: { holder: string; rv: string; at: number };
  private current?: Lease;
  private leading = false;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly client: KubeClient, private readonly opts: LeaderOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.opts.namespace)}/leases`;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops campaigning; a leader releases the lease. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.leading) await this.release();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const durationSeconds = Math.max(1, Math.round(this.opts.leaseDurationMs / 1000));
    let lease: Lease;
    try {
      lease = await this.client.request<Lease>('GET', `${this.path}/${encodeURIComponent(this.opts.name)}`, { timeoutMs: this.opts.retryPeriodMs * 2 });
    } catch (e) {
      if (!isKubeError(e, 404)) throw e;
      const created = await this.client.request<Lease>('POST', this.path, {
        body: {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: { holderIdentity: this.opts.identity, leaseDurationSeconds: durationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        },
      });
      this.current = created;
      this.observed = { holder: this.opts.identity, rv: created.metadata.resourceVersion ?? '', at: Date.now() };
      return true;
    }
    const holder = lease.spec.holderIdentity ?? '';
    const rv = lease.metadata.resourceVersion ?? '';
    if (!this.observed || this.observed.rv !== rv) this.observed = { holder, rv, at: Date.now() };
    const heldByOther = holder !== '' && holder !== this.opts.identity;
    const heldForMs = (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && Date.now() < this.observed.at + heldForMs) return false;
    const taking = holder !== this.opts.identity;
    const body: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: microTime(now),
        ...(taking && { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (holder === '' ? 0 : 1) }),
      },
    };
    // PUT with the resourceVersion read: a concurrent writer makes this a 409 and we simply lose this round.
    const updated = await this.client.request<Lease>('PUT', `${this.path}/${encodeURIComponent(this.opts.name)}`, { body, timeoutMs: this.opts.retryPeriodMs * 2 });
    this.current = updated;
    this.observed = { holder: this.opts.identity, rv: updated.metadata.resourceVersion ?? '', at: Date.now() };
    return true;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    // Campaign until acquired.
    while (!signal.aborted && !this.leading) {
      try {
        if (await this.tryAcquireOrRenew()) {
          this.leading = true;
          this.opts.log?.(`leader election: acquired lease ${this.opts.namespace}/${this.opts.name} as ${this.opts.identity}`);
          this.opts.onStartedLeading();
          break;
        }
      } catch (e) {
        if (!isKubeError(e, 409)) this.opts.log?.(`leader election: ${(e as Error).message}`);
      }
      await sleep(this.opts.retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    // Renew until stopped or lost.
    let lastRenew = Date.now();
    while (!signal.aborted && this.leading) {
      await sleep(this.opts.retryPeriodMs, signal);
      if (signal.aborted) break;
      try {
        if (await this.tryAcquireOrRenew()) {
          lastRenew = Date.now();
          continue;
        }
      } catch (e) {
        if (!isKubeError(e, 409)) this.opts.log?.(`leader election: renew failed: ${(e as Error).message}`);
      }
      if (Date.now() - lastRenew >= this.opts.renewDeadlineMs || this.observed?.holder !== this.opts.identity) {
        this.leading = false;
        this.opts.log?.(`leader election: lost lease ${this.opts.namespace}/${this.opts.name}`);
        this.opts.onStoppedLeading();
      }
    }
  }

  private async release(): Promise<void> {
    const lease = this.current;
    this.leading = false;
    if (!lease) return;
    try {
      const fresh = await this.client.request<Lease>('GET', `${this.path}/${encodeURIComponent(this.opts.name)}`);
      if (fresh.spec.holderIdentity !== this.opts.identity) return;
      await this.client.request('PUT', `${this.path}/${encodeURIComponent(this.opts.name)}`, {
        body: { ...fresh, spec: { ...fresh.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() } },
      });
      this.opts.log?.(`leader election: released lease ${this.opts.namespace}/${this.opts.name}`);
    } catch (e) {
      this.opts.log?.(`leader election: release failed: ${(e as Error).message}`);
    }
  }
}
