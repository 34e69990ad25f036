import type { Row } from './bench.js';
import type { Environment } from './env.js';

// The results table (Markdown, printed and written to bench/results/LATEST.md) and the notes below it.

export const HEADER = ['case', 'plait median (min–max)', 'peer median (min–max)', 'ratio', 'requests plait/peer', 'goal', 'met/missed'];

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdownTable(rows: Row[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${[r.case, r.plait, r.peer, r.ratio, r.requests, r.goal, r.verdict].map(esc).join(' | ')} |`);
  return lines.join('\n');
}

export interface ReportInput {
  env: Environment;
  mode: string;
  fixtures: string[];
  rows: Row[];
  elapsedS: number;
}

export function tally(rows: Row[]): string {
  const count = (v: Row['verdict']) => rows.filter((r) => r.verdict === v).length;
  const parts = [`${count('met')} met`, `${count('missed')} missed`];
  if (count('not measurable yet') > 0) parts.push(`${count('not measurable yet')} not measurable yet`);
  if (count('failed') > 0) parts.push(`${count('failed')} failed`);
  return parts.join(', ');
}

export function markdownReport(r: ReportInput): string {
  const v = r.env.versions;
  const out = [
    '# plait benchmarks — latest run',
    '',
    `Written by \`npm run bench\` (bench/run.ts); see bench/README.md for what each case measures.`,
    '',
    `- Date: ${r.env.date}; mode: ${r.mode}; the whole run took ${(r.elapsedS / 60).toFixed(1)} min`,
    `- Machine: ${r.env.cpus}; ${r.env.memory} memory; kernel ${r.env.kernel}; ${r.env.os}`,
    `- Versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join('; ')}`,
    ...r.fixtures.map((f) => `- Fixture: ${f}`),
    '',
    'Wall = process start to exit; peak RSS = ru_maxrss from GNU time; requests = lines in the registries\' own access',
    'logs; ratio = plait / peer (for throughput: plait / curl). Medians over the counted runs, which alternate between',
    'the tools after one discarded warm-up round. One small shared VM: compare within a run, not across machines.',
    '',
    markdownTable(r.rows),
    '',
    `Result: ${tally(r.rows)}.`,
    '',
    '## Notes (access-log classification of the first counted run of each tool)',
    '',
  ];
  for (const row of r.rows) {
    if (row.notes.length === 0) continue;
    out.push(`- **${esc(row.case)}** (${row.verdict})`);
    for (const n of row.notes) out.push(`  - ${n.replace(/\n/g, ' ')}`);
  }
  return out.join('\n') + '\n';
}
