import { asPlaitError } from '../errors.js';
import type { PlaitError } from '../errors.js';
import type { CopyProgress } from '../core/copy/copy.js';
import type { Store } from '../core/store/index.js';
import { applyPlan } from './apply.js';
import type { ApplyResult } from './apply.js';
import { plan } from './plan.js';
import type { Plan } from './plan.js';
import type { ResolveMemo } from './sources.js';
import type { ReconcileSpec } from './model.js';

// Many specs at once: each is planned and (unless dry-run) applied on its own, at most `concurrency` at a time; one
// failing spec does not stop the others, and every outcome is reported at the end.

export interface SpecOutcome {
  name: string;
  origin: string;
  plan?: Plan;
  result?: ApplyResult;
  error?: PlaitError;
  ms: number;
}

export type ReconcileEvent =
  | { kind: 'start'; spec: ReconcileSpec }
  | { kind: 'planned'; spec: ReconcileSpec; plan: Plan }
  | { kind: 'progress'; spec: ReconcileSpec; progress: CopyProgress }
  | { kind: 'done'; outcome: SpecOutcome };

export interface ReconcileOptions {
  concurrency?: number;
  dryRun?: boolean;
  jobs?: number;
  onEvent?: (e: ReconcileEvent) => void;
}

export async function reconcileAll(specs: ReconcileSpec[], store: Store, opts: ReconcileOptions = {}): Promise<SpecOutcome[]> {
  const outcomes: SpecOutcome[] = new Array<SpecOutcome>(specs.length);
  const memo: ResolveMemo = new Map();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= specs.length) return;
      const spec = specs[i]!;
      const started = Date.now();
      opts.onEvent?.({ kind: 'start', spec });
      const outcome: SpecOutcome = { name: spec.name, origin: spec.origin, ms: 0 };
      try {
        outcome.plan = await plan(spec, store, memo, { toApply: !opts.dryRun });
        opts.onEvent?.({ kind: 'planned', spec, plan: outcome.plan });
        if (!opts.dryRun) {
          outcome.result = await applyPlan(outcome.plan, store, {
            jobs: opts.jobs,
            onProgress: (progress) => opts.onEvent?.({ kind: 'progress', spec, progress }),
          });
        }
      } catch (e) {
        outcome.error = asPlaitError(e);
      }
      outcome.ms = Date.now() - started;
      outcomes[i] = outcome;
      opts.onEvent?.({ kind: 'done', outcome });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, specs.length)) }, worker));
  return outcomes;
}
