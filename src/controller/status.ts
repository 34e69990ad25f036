import { metaTime } from './kube/client.js';

// kstatus-compatible conditions, as Flux writes them: Ready is always present once the controller has looked at an
// object; Reconciling is True only while work is under way (abnormal-true: it is removed when done); Stalled is True
// only when retrying cannot help (the spec itself is wrong) and is removed otherwise.

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';

/** Reasons, CamelCase as Kubernetes wants them. */
export const Reasons = {
  Succeeded: 'Succeeded',
  InSync: 'InSync',
  Progressing: 'Progressing',
  Suspended: 'Suspended',
  InvalidSpec: 'InvalidSpec',
  SecretNotFound: 'SecretNotFound',
  ReconcileFailed: 'ReconcileFailed',
  Timeout: 'ReconciliationTimeout',
  Deleting: 'Deleting',
} as const;

/** Sets (or replaces) a condition; lastTransitionTime moves only when the status changes. */
export function setCondition(conditions: Condition[], c: Omit<Condition, 'lastTransitionTime'>, now = new Date()): Condition[] {
  const old = conditions.find((x) => x.type === c.type);
  const next: Condition = { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : metaTime(now) };
  return [...conditions.filter((x) => x.type !== c.type), next].sort((a, b) => order(a.type) - order(b.type));
}

export function removeCondition(conditions: Condition[], type: string): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

export function getCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

function order(type: string): number {
  return type === READY ? 0 : type === RECONCILING ? 1 : type === STALLED ? 2 : 3;
}
