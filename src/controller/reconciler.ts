import { asPlaitError, ErrorCodes } from '../errors.js';
import type { PlaitError } from '../errors.js';
import type { Store } from '../core/store/index.js';
import { NO_POSITIONS, parseDuration, validateObject, withDefaults } from '../reconcile/spec/index.js';
import type { ManifestListDoc, ValidSpec } from '../reconcile/spec/index.js';
import { toReconcileSpec } from '../reconcile/from-spec.js';
import { plan as planSpec } from '../reconcile/plan.js';
import type { ResolveMemo } from '../reconcile/sources.js';
import type { Plan } from '../reconcile/plan.js';
import { applyPlan } from '../reconcile/apply.js';
import type { ApplyResult } from '../reconcile/apply.js';
import { deletePushedList } from '../reconcile/delete.js';
import type { TransportOptions } from '../transports/index.js';
import { CONTROLLER_TLS_REMEDIES } from './tls-remedies.js';
import type { Digest } from '../oci/digest.js';
import { formatPlatform } from '../oci/platform.js';
import { MERGE_PATCH, isKubeError } from './kube/client.js';
import type { KubeClient } from './kube/client.js';
import type { KubeObject } from './informer.js';
import { MissingReference } from './resources.js';
import type { Materialiser } from './resources.js';
import { READY, RECONCILING, STALLED, Reasons, removeCondition, setCondition } from './status.js';
import type { Condition } from './status.js';
import type { EventRecorder } from './events.js';

// One ManifestList custom resource, reconciled through the same spec validation, plan and apply as `plait apply`:
// the resource is validated as a document, its Secret and ConfigMap references become private files, and the result
// is written back as kstatus conditions, the pushed digest, its instances and the last pushes. The store is a cache:
// a controller with an empty one (a new pod) finds in-sync lists in sync from the registry alone.

export const GROUP = 'plait.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'manifestlists';
export const FINALIZER = 'plait.dev/finalizer';
export const REQUESTED_AT = 'reconcile.plait.dev/requestedAt';

const DEFAULT_INTERVAL_MS = 10 * 60_000;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export interface ReconcileOutcome {
  /** Queue the object again after this long (its interval, or a backoff). */
  requeueAfterMs?: number;
  /** The reconcile failed in a way a retry may fix: back off (capped by the object's retryInterval). */
  failed?: { retryCapMs: number };
  result: ApplyResult['outcome'] | 'failed' | 'stalled' | 'suspended' | 'deleted' | 'gone';
}

export interface ReconcilerDeps {
  client: KubeClient;
  store: Store;
  resources: Materialiser;
  events: EventRecorder;
  jobs: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

type Status = {
  observedGeneration?: number;
  digest?: string;
  instances?: Array<{ digest: string; platform?: string; source?: string; compression?: string }>;
  conditions?: Condition[];
  lastHandledReconcileAt?: string;
  history?: Array<{ digest: string; pushedAt: string }>;
};

function objectPath(o: KubeObject): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(o.metadata.namespace ?? 'default')}/${PLURAL}/${encodeURIComponent(o.metadata.name)}`;
}

function durationMs(v: unknown, dflt: number): number {
  if (typeof v !== 'string') return dflt;
  try {
    return parseDuration(v);
  } catch {
    return dflt;
  }
}

export function intervals(o: KubeObject): { intervalMs: number; timeoutMs: number; retryMs: number } {
  const s = o.spec ?? {};
  const intervalMs = durationMs(s.interval, DEFAULT_INTERVAL_MS);
  return { intervalMs, timeoutMs: durationMs(s.timeout, DEFAULT_TIMEOUT_MS), retryMs: durationMs(s.retryInterval, intervalMs) };
}

/** ±5% so that many objects created together spread out over their interval. */
function jitter(ms: number): number {
  return Math.round(ms * (0.95 + Math.random() * 0.1));
}

/** Failures a retry cannot fix: the spec says something impossible. */
function isStalling(e: PlaitError): boolean {
  return !e.retryable && ([ErrorCodes.E_SPEC_INVALID, ErrorCodes.E_INVALID, ErrorCodes.E_PLATFORM_INVALID, ErrorCodes.E_REFERENCE_INVALID, ErrorCodes.E_UNSUPPORTED, ErrorCodes.E_CONFLICT] as string[]).includes(e.code);
}

/**
 * How long one lookup of a source tag serves every resource naming it (with the same credentials): many lists built
 * from one base image then cost one HEAD per window instead of one each, and a moved tag is seen at most this late.
 */
const SOURCE_MEMO_MS = 5000;

export class Reconciler {
  private readonly memos = new Map<string, { memo: ResolveMemo; at: number }>();

  constructor(private readonly d: ReconcilerDeps) {}

  /** The shared source lookups for one transport (credentials and CAs): never shared across different ones. */
  private memoFor(transport: TransportOptions): ResolveMemo {
    const now = Date.now();
    for (const [k, m] of this.memos) if (now - m.at > SOURCE_MEMO_MS) this.memos.delete(k);
    const key = JSON.stringify(transport);
    let m = this.memos.get(key);
    if (!m) this.memos.set(key, (m = { memo: new Map(), at: now }));
    return m.memo;
  }

  private async patchStatus(o: KubeObject, status: Status): Promise<void> {
    if (JSON.stringify(status) === JSON.stringify(o.status ?? {})) return;
    try {
      await this.d.client.request('PATCH', `${objectPath(o)}/status`, { body: { status }, contentType: MERGE_PATCH });
    } catch (e) {
      if (isKubeError(e, 404)) return;
      throw e;
    }
  }

  /** Finalizer edits carry the resourceVersion read: a concurrent change is a 409 and the object is simply queued again. */
  private async setFinalizers(o: KubeObject, finalizers: string[]): Promise<KubeObject> {
    return this.d.client.request<KubeObject>('PATCH', objectPath(o), {
      body: { metadata: { resourceVersion: o.metadata.resourceVersion, finalizers } },
      contentType: MERGE_PATCH,
    });
  }

  async reconcile(o: KubeObject): Promise<ReconcileOutcome> {
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    const gen = o.metadata.generation ?? 0;
    const { intervalMs, timeoutMs, retryMs } = intervals(o);
    const status: Status = structuredClone((o.status ?? {}) as Status);
    status.conditions ??= [];
    const requestedAt = o.metadata.annotations?.[REQUESTED_AT];
    const finalizers = o.metadata.finalizers ?? [];

    if (o.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return { result: 'gone' };
      return this.finalize(o, status, retryMs);
    }
    // The finalizer goes on before anything is pushed, so that a deletion can never miss what was pushed.
    if (!finalizers.includes(FINALIZER)) o = await this.setFinalizers(o, [...finalizers, FINALIZER]);
    if (o.spec?.suspend === true) {
      this.d.log(`${key}: suspended`);
      return { result: 'suspended' };
    }

    const problems = validateObject(o, { context: 'controller', file: key });
    if (problems.length > 0) {
      const message = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      status.observedGeneration = gen;
      status.conditions = setCondition(removeCondition(status.conditions, RECONCILING), { type: READY, status: 'False', reason: Reasons.InvalidSpec, message, observedGeneration: gen });
      status.conditions = setCondition(status.conditions, { type: STALLED, status: 'True', reason: Reasons.InvalidSpec, message, observedGeneration: gen });
      if (requestedAt) status.lastHandledReconcileAt = requestedAt;
      await this.patchStatus(o, status);
      await this.d.events.record(o, 'Warning', Reasons.InvalidSpec, message);
      return { result: 'stalled' };
    }

    const firstLook = status.observedGeneration !== gen;
    if (firstLook) {
      const progressing = setCondition(status.conditions, { type: RECONCILING, status: 'True', reason: Reasons.Progressing, message: `reconciling generation ${gen}`, observedGeneration: gen });
      const s = { ...status, conditions: removeCondition(progressing, STALLED) };
      await this.patchStatus(o, s);
      o = { ...o, status: s };
    }

    let p: Plan | undefined;
    try {
      const spec = await this.toSpec(o);
      p = await withTimeout(planSpec(spec, this.d.store, this.memoFor(spec.transport)), timeoutMs, key);
      const drifted = !p.inSync;
      if (drifted && status.digest) {
        await this.d.events.record(o, 'Normal', 'DriftDetected', `${p.actions.length} change(s): ${p.actions.slice(0, 8).map((a) => a.kind).join(', ')}`);
      }
      const result = await withTimeout(applyPlan(p, this.d.store, { jobs: this.d.jobs }), timeoutMs, key);
      this.writeSuccess(status, o, p, result, gen, requestedAt);
      await this.patchStatus(o, status);
      if (result.outcome !== 'in-sync') {
        const reason = { pushed: 'Pushed', 'tags-moved': 'TagsMoved', signed: 'Signed' }[result.outcome as string] ?? 'Changed';
        await this.d.events.record(o, 'Normal', reason,
          `${result.digest} → ${String(o.spec?.destination && (o.spec.destination as { image?: string }).image)}:${p.spec.destination.tags.join(',')}`);
      }
      this.d.log(`${key}: ${result.outcome} ${result.digest}`, { outcome: result.outcome, digest: result.digest, generation: gen });
      return { result: result.outcome, requeueAfterMs: jitter(intervalMs) };
    } catch (e) {
      const timedOut = e instanceof TimeoutError;
      const err = asPlaitError(e);
      const stalled = !(err instanceof MissingReference) && !timedOut && isStalling(err);
      const reason = err instanceof MissingReference ? Reasons.SecretNotFound : timedOut ? Reasons.Timeout : stalled ? Reasons.InvalidSpec : Reasons.ReconcileFailed;
      status.conditions = setCondition(removeCondition(status.conditions, RECONCILING), { type: READY, status: 'False', reason, message: err.message, observedGeneration: gen });
      status.conditions = stalled
        ? setCondition(status.conditions, { type: STALLED, status: 'True', reason, message: err.message, observedGeneration: gen })
        : removeCondition(status.conditions, STALLED);
      status.observedGeneration = gen;
      if (requestedAt) status.lastHandledReconcileAt = requestedAt;
      try {
        await this.patchStatus(o, status);
      } catch (pe) {
        this.d.log(`${key}: status not written: ${(pe as Error).message}`);
      }
      await this.d.events.record(o, 'Warning', reason, err.message);
      this.d.log(`${key}: ${err.message}`, { outcome: 'failed', code: err.code, generation: gen });
      // A stalled object is looked at again on its retry interval (sources may change), never in a tight loop.
      if (stalled) return { result: 'stalled', requeueAfterMs: jitter(retryMs) };
      return { result: 'failed', failed: { retryCapMs: retryMs } };
    }
  }

  /** The resource as a validated spec with its Secret/ConfigMap references turned into private files. */
  private async toSpec(o: KubeObject) {
    const ns = o.metadata.namespace ?? 'default';
    const raw = structuredClone(o) as unknown as ManifestListDoc;
    const doc = withDefaults(raw);
    const s = doc.spec;
    const r = this.d.resources;
    const asFile = async (k: unknown): Promise<unknown> => {
      const ref = (k as { secretRef?: { name: string; key: string } } | undefined)?.secretRef;
      return ref ? { file: await r.secretKeyFile(ns, ref) } : k;
    };
    if (s.signatures) {
      for (const x of s.signatures.sigstore ?? []) {
        Object.assign(x, { privateKey: await asFile(x.privateKey) });
        if (x.passphrase) Object.assign(x, { passphrase: await asFile(x.passphrase) });
      }
      for (const x of s.signatures.gpg ?? []) {
        Object.assign(x, { key: await asFile(x.key) });
        if (x.passphrase) Object.assign(x, { passphrase: await asFile(x.passphrase) });
      }
    }
    const transport: TransportOptions = { tlsRemedies: CONTROLLER_TLS_REMEDIES };
    if (s.secretRef) transport.authfile = await r.authFile(ns, s.secretRef.name);
    const certDir = await r.certDir(ns, s.certSecretRef, s.caConfigMapRef);
    if (certDir) transport.certDir = certDir;
    const valid: ValidSpec = {
      file: `${ns}/${o.metadata.name}`, index: 0, name: `${ns}/${o.metadata.name}`, doc, raw, positions: NO_POSITIONS, baseDir: process.cwd(),
    };
    return toReconcileSpec(valid, transport);
  }

  private writeSuccess(status: Status, o: KubeObject, p: Plan, r: ApplyResult, gen: number, requestedAt?: string): void {
    const message = r.outcome === 'in-sync'
      ? `${r.digest} is served under ${p.spec.destination.tags.join(', ')}`
      : `pushed ${r.digest} under ${p.spec.destination.tags.join(', ')}`;
    const reason = r.outcome === 'in-sync' ? Reasons.InSync : Reasons.Succeeded;
    // Ready's reason stays as it was when only the wording of success changes, so an interval no-op writes nothing.
    const prevReady = status.conditions?.find((c) => c.type === READY);
    const keep = prevReady?.status === 'True' && prevReady.observedGeneration === gen && status.digest === r.digest;
    status.conditions = removeCondition(removeCondition(status.conditions ?? [], RECONCILING), STALLED);
    if (!keep) status.conditions = setCondition(status.conditions, { type: READY, status: 'True', reason, message, observedGeneration: gen });
    status.observedGeneration = gen;
    if (status.digest !== r.digest) {
      const history = [{ digest: r.digest, pushedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') }, ...(status.history ?? [])];
      status.history = history.filter((h, i) => history.findIndex((x) => x.digest === h.digest) === i).slice(0, p.spec.historyLimit);
    }
    status.digest = r.digest;
    status.instances = instancesOf(p);
    if (requestedAt) status.lastHandledReconcileAt = requestedAt;
    void o;
  }

  private async finalize(o: KubeObject, status: Status, retryMs: number): Promise<ReconcileOutcome> {
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    const policy = (o.spec?.deletionPolicy as string | undefined) ?? 'Orphan';
    // A suspended object deletes nothing, as with Flux: suspending is how a user says "hands off".
    if (policy === 'Delete' && status.digest && o.spec?.suspend !== true) {
      try {
        const spec = await this.toSpec(o);
        const res = await deletePushedList(spec.destination, status.digest as Digest, spec.transport);
        this.d.log(`${key}: deleted ${status.digest} (tags ${res.deleted.join(', ') || 'none'}; left alone: ${res.kept.join(', ') || 'none'})`);
        await this.d.events.record(o, 'Normal', 'Deleted', `deleted ${status.digest}; tags gone: ${res.deleted.join(', ') || 'none'}; left alone (moved since): ${res.kept.join(', ') || 'none'}`);
      } catch (e) {
        const err = asPlaitError(e);
        status.conditions = setCondition(status.conditions ?? [], { type: READY, status: 'False', reason: Reasons.Deleting, message: `deleting: ${err.message}`, observedGeneration: o.metadata.generation ?? 0 });
        await this.patchStatus(o, status).catch(() => undefined);
        await this.d.events.record(o, 'Warning', Reasons.Deleting, err.message);
        if (err.code === ErrorCodes.E_UNSUPPORTED) {
          // Nothing a retry could change: orphan and let the object go.
          this.d.log(`${key}: ${err.message}; orphaned`);
        } else {
          return { result: 'failed', failed: { retryCapMs: retryMs } };
        }
      }
    }
    // The local record is only a cache of this object; it goes with it.
    await this.d.store.deleteRecord(`${o.metadata.namespace}/${o.metadata.name}`).catch(() => undefined);
    await this.setFinalizers(o, (o.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
    return { result: 'deleted' };
  }
}

function instancesOf(p: Plan): Status['instances'] {
  return p.desired.entries.map((e) => ({ digest: e.digest, platform: formatPlatform(e.platform), source: e.source }));
}

class TimeoutError extends Error {}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timer = new Promise<never>((_r, reject) => {
    t = setTimeout(() => reject(new TimeoutError(`${what}: reconcile did not finish within ${Math.round(ms / 1000)}s (spec.timeout)`)), ms);
  });
  try {
    return await Promise.race([work, timer]);
  } finally {
    clearTimeout(t);
    // The work is not abandoned: whatever it still does finishes before the object can be reconciled again
    // (the worker waits for it), so two pushes of one list never overlap.
    await work.catch(() => undefined);
  }
}
