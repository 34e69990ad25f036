import { PlaitError, ErrorCodes } from '../../errors.js';
import { resolveStoreRoot } from '../../core/store/index.js';
import { parseDuration } from '../../reconcile/spec/index.js';
import { parseFlags, str } from '../flags.js';
import type { FlagSpec } from '../flags.js';
import { onStopSignals } from '../interrupts.js';
import type { Command } from '../run.js';

// plait controller: the Kubernetes controller for ManifestList custom resources. All of its work is done by
// src/controller over the same reconcile code as `plait apply`; this module only reads flags.

export const CONTROLLER_FLAGS: FlagSpec = {
  kubeconfig: { type: 'string', arg: 'FILE', help: 'kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account)' },
  context: { type: 'string', arg: 'NAME', help: 'kubeconfig context to use (default: its current context)' },
  'watch-namespaces': { type: 'string', arg: 'NS[,NS…]', help: 'namespaces to watch (default: all)' },
  'watch-label-selector': { type: 'string', arg: 'SELECTOR', help: 'reconcile only ManifestLists matching this label selector (sharding across controllers)' },
  concurrent: { type: 'string', arg: 'N', help: 'ManifestLists reconciled at once (default 4)' },
  jobs: { type: 'string', arg: 'N', help: 'blob copies at once within one reconcile (default 4)' },
  'leader-elect': { type: 'boolean', valued: true, default: true, help: 'hold a coordination.k8s.io Lease so only one replica reconciles (default true)' },
  'leader-election-namespace': { type: 'string', arg: 'NS', help: 'namespace of the Lease (default: $POD_NAMESPACE, else the kubeconfig context\'s namespace, else default)' },
  'leader-election-id': { type: 'string', arg: 'NAME', default: 'plait-controller', help: 'name of the Lease (default plait-controller)' },
  'lease-duration': { type: 'string', arg: 'DURATION', default: '15s', help: 'how long a non-renewed Lease keeps others waiting (default 15s)' },
  'renew-deadline': { type: 'string', arg: 'DURATION', default: '10s', help: 'how long the leader keeps trying to renew before it stops (default 10s)' },
  'retry-period': { type: 'string', arg: 'DURATION', default: '2s', help: 'how often candidates and the leader try the Lease (default 2s)' },
  'metrics-addr': { type: 'string', arg: '[HOST]:PORT', default: ':8080', help: 'where /metrics (Prometheus text) is served (default :8080)' },
  'health-addr': { type: 'string', arg: '[HOST]:PORT', default: ':8081', help: 'where /healthz and /readyz are served (default :8081)' },
  store: { type: 'string', arg: 'DIR', help: 'local store, a cache only (default $PLAIT_STORE, $XDG_DATA_HOME/plait or ~/.local/share/plait)' },
  'log-format': { type: 'string', arg: 'text|json', default: 'text', help: 'log lines on stderr as text or JSON (default text)' },
};

const SUMMARY = 'Reconcile ManifestList custom resources (plait.dev/v1alpha1) in a Kubernetes cluster.';


function positiveInt(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new PlaitError(ErrorCodes.E_INVALID, `controller: --${name} must be a positive integer, not ${JSON.stringify(v)}`);
  return n;
}

function duration(name: string, v: unknown): number {
  try {
    const ms = parseDuration(String(v));
    if (ms <= 0) throw new Error('not positive');
    return ms;
  } catch {
    throw new PlaitError(ErrorCodes.E_INVALID, `controller: --${name} must be a positive duration like 15s, not ${JSON.stringify(v)}`);
  }
}

export const controller: Command = {
  name: 'controller',
  summary: 'run the Kubernetes controller',
  description: `${SUMMARY}\nRuns until SIGTERM or SIGINT: then it takes no new work, lets running reconciles finish and releases its Lease.`,
  async run(args) {
    const { values, positionals } = parseFlags('controller', args, CONTROLLER_FLAGS);
    if (positionals.length > 0) throw new PlaitError(ErrorCodes.E_INVALID, `controller: unexpected argument ${JSON.stringify(positionals[0])}`);
    const logFormat = str(values['log-format']);
    if (logFormat !== 'text' && logFormat !== 'json') throw new PlaitError(ErrorCodes.E_INVALID, `controller: --log-format must be text or json, not ${JSON.stringify(logFormat)}`);
    const leaseDurationMs = duration('lease-duration', values['lease-duration']);
    const renewDeadlineMs = duration('renew-deadline', values['renew-deadline']);
    const retryPeriodMs = duration('retry-period', values['retry-period']);
    if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > retryPeriodMs)) {
      throw new PlaitError(ErrorCodes.E_INVALID, 'controller: --lease-duration must be longer than --renew-deadline, and that longer than --retry-period');
    }
    const { Controller } = await import('../../controller/manager.js');
    const c = await Controller.create({
      ...(str(values.kubeconfig) && { kubeconfig: str(values.kubeconfig) }),
      ...(str(values.context) && { context: str(values.context) }),
      watchNamespaces: (str(values['watch-namespaces']) ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      ...(str(values['watch-label-selector']) && { labelSelector: str(values['watch-label-selector']) }),
      concurrent: positiveInt('concurrent', values.concurrent, 4),
      jobs: positiveInt('jobs', values.jobs, 4),
      leaderElect: values['leader-elect'] !== false,
      ...(str(values['leader-election-namespace']) && { leaderElectionNamespace: str(values['leader-election-namespace']) }),
      leaderElectionId: str(values['leader-election-id'])!,
      leaseDurationMs, renewDeadlineMs, retryPeriodMs,
      metricsAddr: str(values['metrics-addr'])!,
      healthAddr: str(values['health-addr'])!,
      storeRoot: resolveStoreRoot({ store: str(values.store) }),
      logFormat,
      ...(process.env.PLAIT_CONTROLLER_BACKOFF_MS && { backoffInitialMs: Number(process.env.PLAIT_CONTROLLER_BACKOFF_MS) }),
      ...(process.env.PLAIT_CONTROLLER_WATCH_SECONDS && { watchSeconds: Number(process.env.PLAIT_CONTROLLER_WATCH_SECONDS) }),
    });
    onStopSignals((sig) => {
      process.stderr.write(`plait controller: ${sig}: finishing running reconciles, then stopping\n`);
      void c.stop(0);
    });
    await c.start();
    const code = await c.done;
    // A lost lease means another instance may be reconciling already: leave now, whatever is still running.
    if (code !== 0) process.exit(code);
    return code;
  },
};
