import { appendFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { formatPlatform } from '../oci/platform.js';
import type { SpecOutcome, ReconcileEvent } from '../reconcile/run.js';

// How reconcile results reach people and machines: a table (or JSON/YAML) on stdout, live progress on a TTY (plain
// lines otherwise, or JSON lines with --log-format json) on stderr, and a markdown table appended to
// $GITHUB_STEP_SUMMARY when it is set.

export type OutputFormat = 'table' | 'json' | 'yaml';

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function status(o: SpecOutcome): string {
  if (o.error) return 'failed';
  if (o.result) return o.result.outcome;
  return o.plan?.inSync ? 'in-sync' : 'drift';
}

export function outcomeDoc(o: SpecOutcome): Record<string, unknown> {
  return {
    name: o.name,
    origin: o.origin,
    status: status(o),
    ...(o.error && { error: { code: o.error.code, message: o.error.message } }),
    ...(o.plan && {
      actions: o.plan.actions,
      tags: o.plan.tags.map((t) => ({ tag: t.tag, current: t.current ?? null })),
      expected: o.plan.expected?.digest ?? null,
      instances: o.plan.desired.entries.map((e) => ({ digest: e.digest, platform: formatPlatform(e.platform, { osVersion: true }), source: e.source })),
    }),
    ...(o.result && { digest: o.result.digest, bytesCopied: o.result.bytesCopied }),
    ms: o.ms,
  };
}

export function render(outcomes: SpecOutcome[], format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(outcomes.map(outcomeDoc), null, 2) + '\n';
  if (format === 'yaml') return stringify(outcomes.map(outcomeDoc));
  const rows = [['SPEC', 'STATUS', 'ACTION', 'TARGET', 'DETAIL']];
  for (const o of outcomes) {
    if (o.error) {
      rows.push([o.name, 'failed', '', '', o.error.message]);
      continue;
    }
    const actions = o.plan?.actions ?? [];
    const st = status(o);
    if (actions.length === 0) rows.push([o.name, st, '', '', o.result?.digest ?? o.plan?.expected?.digest ?? '']);
    actions.forEach((a, i) => rows.push([i === 0 ? o.name : '', i === 0 ? st : '', a.kind, a.target, a.detail]));
  }
  return table(rows);
}

export function summaryLine(outcomes: SpecOutcome[]): string {
  const count = (s: string) => outcomes.filter((o) => status(o) === s).length;
  const parts = [['pushed', count('pushed')], ['tags moved', count('tags-moved')], ['signed', count('signed')], ['in sync', count('in-sync')], ['drift', count('drift')], ['failed', count('failed')]]
    .filter(([, n]) => (n as number) > 0).map(([k, n]) => `${n as number} ${k as string}`);
  return `${outcomes.length} spec${outcomes.length === 1 ? '' : 's'}: ${parts.join(', ') || 'nothing to do'}`;
}

export async function appendStepSummary(outcomes: SpecOutcome[], title: string): Promise<void> {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`### ${title}`, '', '| spec | status | digest | actions |', '|---|---|---|---|'];
  for (const o of outcomes) {
    const digest = o.result?.digest ?? o.plan?.expected?.digest ?? '';
    const actions = o.error ? esc(o.error.message) : (o.plan?.actions ?? []).map((a) => `${a.kind} ${esc(a.target)}`).join('<br>');
    lines.push(`| ${esc(o.name)} | ${status(o)} | \`${digest}\` | ${actions} |`);
  }
  await appendFile(file, lines.join('\n') + '\n\n');
}

/** The JSON document `-o json` prints on stdout when a command fails as a whole (the one line still goes to stderr). */
export function jsonError(code: string, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error: { code, message, ...extra } }, null, 2) + '\n';
}

/** The -o value of a command's argv, read before flag parsing so that even a flag error can be answered in JSON. */
export function wantsJson(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if ((a === '-o' || a === '--output') && args[i + 1] === 'json') return true;
    if (a === '-ojson' || a === '--output=json' || a === '-o=json') return true;
  }
  return false;
}

/** Run a command; with -o json, a failure also prints {"error":{code,message}} on stdout. */
export async function withJsonErrors(args: readonly string[], fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (!wantsJson(args)) throw e;
    const { asPlaitError } = await import('../errors.js');
    const err = asPlaitError(e);
    process.stdout.write(jsonError(err.code, err.message));
    process.stderr.write(`plait: ${err.message}\n`);
    return 1;
  }
}

/** A progress reporter: live lines on a TTY, plain lines otherwise, JSON lines for --log-format json. */
export function progressReporter(logFormat: 'text' | 'json', stream: NodeJS.WriteStream = process.stderr): (e: ReconcileEvent) => void {
  const bytes = new Map<string, number>();
  const done = new Map<string, number>();
  const live = logFormat === 'text' && stream.isTTY;
  let lastPaint = 0;
  return (e) => {
    if (logFormat === 'json') {
      const base = { time: new Date().toISOString(), event: e.kind };
      if (e.kind === 'done') stream.write(JSON.stringify({ ...base, ...outcomeDoc(e.outcome) }) + '\n');
      else if (e.kind === 'progress') stream.write(JSON.stringify({ ...base, spec: e.spec.name, ...e.progress }) + '\n');
      else stream.write(JSON.stringify({ ...base, spec: e.spec.name }) + '\n');
      return;
    }
    if (e.kind === 'progress') {
      bytes.set(e.spec.name, (bytes.get(e.spec.name) ?? 0) + e.progress.bytes);
      if (e.progress.kind === 'manifest-written' || e.progress.kind === 'manifest-skipped') done.set(e.spec.name, (done.get(e.spec.name) ?? 0) + 1);
      if (live && Date.now() - lastPaint > 100) {
        lastPaint = Date.now();
        const mib = ((bytes.get(e.spec.name) ?? 0) / 1048576).toFixed(1);
        stream.write(`\r\x1b[K${e.spec.name}: ${done.get(e.spec.name) ?? 0} manifests, ${mib} MiB`);
      }
      return;
    }
    if (e.kind === 'done') {
      const o = e.outcome;
      const what = o.error ? `failed: ${o.error.message}` : `${status(o)}${o.result ? ` ${o.result.digest}` : ''}`;
      stream.write(`${live ? '\r\x1b[K' : ''}${o.name}: ${what} (${o.ms} ms)\n`);
    }
  };
}
