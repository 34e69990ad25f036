import type { Violation, ViolationKind } from './checker.js';

// The closing block of a torture invocation, written to be pasted into the README as it is.

export interface Stats {
  runs: number;
  converged: number;
  failedClear: number;
  cleanConverged: number;
  planInSync: number;
  crashRuns: number;
  crashKilled: number;
  crashConverged: number;
  concurrencyRuns: number;
  concurrentWriters: number;
  checks: number;
  blobs: number;
  present: number;
  signatures: number;
  /** Failure lines by shape (digests, ports and numbers folded). */
  failures: Map<string, number>;
  injected: Record<string, number>;
  requests: number;
}

const KIND_NAMES: Record<ViolationKind, string> = {
  'tag-incomplete': 'tags naming an incomplete or damaged list',
  'store-corrupt': 'corrupt store records',
  'stale-lock': 'stale locks',
  'temp-files': 'leftover temp files',
  'unclear-failure': 'failures without one clear line',
  'not-converged': 'clean runs that did not converge',
  'bad-signature': 'signatures that do not verify',
  hang: 'runs that hung',
  'lost-update': 'lost updates among concurrent writers',
};

const pct = (n: number, of: number) => (of === 0 ? '–' : `${((100 * n) / of).toFixed(n === of ? 0 : 1)}%`);

function duration(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

export function summary(o: {
  stats: Stats; violations: Violation[]; seconds: number; firstSeed: number; parallel: number; argv: string[]; cut?: string;
}): string {
  const s = o.stats;
  const byKind = new Map<ViolationKind, number>();
  for (const v of o.violations) byKind.set(v.kind, (byKind.get(v.kind) ?? 0) + 1);
  const crash0 = o.firstSeed + 100_000;
  const lines = [
    `torture: npm run torture -- ${o.argv.join(' ')}`.trimEnd(),
    `  node ${process.version}, ${duration(o.seconds)} wall time, ${o.parallel} lane(s)`,
    `  fault runs: ${s.runs} (seeds ${s.runs > 0 ? `${o.firstSeed}..${o.firstSeed + s.runs - 1}` : 'none'}), converged under faults: ${s.converged}, failed with one clear line: ${s.failedClear}`,
    `    next clean run converged: ${s.cleanConverged}/${s.runs} (${pct(s.cleanConverged, s.runs)}), plan in sync after it: ${s.planInSync}/${s.runs}`,
    `    faults injected: ${Object.entries(s.injected).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} (in ${s.requests} requests)`,
    `  crash runs: ${s.crashRuns} (seeds ${s.crashRuns > 0 ? `${crash0}..${crash0 + s.crashRuns - 1}` : 'none'}), killed mid-run: ${s.crashKilled}, re-run converged: ${s.crashConverged}/${s.crashRuns} (${pct(s.crashConverged, s.crashRuns)})`,
    `  concurrency rounds: ${s.concurrencyRuns} (${s.concurrentWriters} writers)`,
    `  checks: ${s.checks}; digests fetched and hashed: ${s.blobs}, presence confirmed: ${s.present}, signatures verified: ${s.signatures}`,
    `  violations: ${o.violations.length}`,
    ...Object.entries(KIND_NAMES).map(([k, name]) => `    ${name}: ${byKind.get(k as ViolationKind) ?? 0}`),
    ...(o.cut ? [`  INCOMPLETE: ${o.cut}`] : []),
    ...[...s.failures].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([l, n]) => `  failure ×${n}: ${l}`),
    ...o.violations.slice(0, 50).map((v) => `  VIOLATION [${v.kind}] ${v.text}`),
  ];
  return `${lines.join('\n')}\n`;
}
