import { appendFile as appendFileCb, writeSync } from 'node:fs';
import { stringify } from 'yaml';
import { formatPlatform } from '../oci/platform.js';
import type { SpecOutcome, ReconcileEvent } from '../reconcile/run.js';
import { HelpRequest } from './flags.js';

// How reconcile results reach people and machines: a table (or JSON/YAML) on stdout, live progress on a TTY (plain
// lines otherwise, or JSON lines with --log-format json) on stderr, and a markdown table appended to
// $GITHUB_STEP_SUMMARY when it is set.

export type OutputFormat = 'table' | 'json' | 'yaml';

/**
 * A command's one result on stdout, written to the descriptor itself. process.stdout is made at its first use, and
 * for a pipe (a CI step's log) making it loads node:net and the stream modules: ~4 ms of validate's start on Node 24,
 * for one line. Node writes to pipes, files and terminals synchronously on Linux too, so the bytes keep their order.
 * Whatever write(2) does not take (a full pipe another process made non-blocking, a closed one) goes on through the
 * stream, which waits or fails as it always has.
 */
export function writeResult(text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(1, bytes, done);
  } catch {
    process.stdout.write(bytes.subarray(done));
  }
}

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

// Not node:fs/promises, for the reason in reconcile/spec/load.ts, and node:util as in cli/flags.ts: every command
// loads this module.
const appendFile = process.getBuiltinModule('node:util').promisify(appendFileCb);

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
    // Help is not an error, whatever -o says.
    if (e instanceof HelpRequest || !wantsJson(args)) throw e;
    const { asPlaitError } = await import('../errors.js');
    const err = asPlaitError(e);
    process.stdout.write(jsonError(err.code, err.message));
    process.stderr.write(`plait: ${err.message}\n`);
    return 1;
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Bytes for people: B, KiB, MiB, GiB with one decimal. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]!}`;
}

interface SpecProgress {
  phase: string;
  done: number;
  total: number;
  /** Bytes that really streamed (not found present or mounted), and since when: the rate. */
  moved: number;
  firstMove?: number;
  manifests: number;
}

function progressLine(name: string, p: SpecProgress, now: number): string {
  const secs = p.firstMove === undefined ? 0 : (now - p.firstMove) / 1000;
  const rate = p.moved > 0 && secs > 0 ? `${humanBytes(p.moved / secs)}/s` : '-/s';
  return `${name}: ${p.phase} ${humanBytes(p.done)}/${humanBytes(p.total)} ${rate}, ${plural(p.manifests, 'manifest')}`;
}

/**
 * A progress reporter on stderr. On a TTY (text format): one live line per spec in flight — phase, bytes done/total,
 * rate, manifests written — repainted at most every `paintMs` from the copy's byte-level events, and a final line per
 * spec. Anywhere else: plain lines, one per event worth a line (a phase reached, a spec done), never a carriage
 * return or an escape sequence; with --log-format json, one JSON object per line.
 */
export function progressReporter(logFormat: 'text' | 'json', stream: NodeJS.WriteStream = process.stderr, paintMs = 100): (e: ReconcileEvent) => void {
  const live = logFormat === 'text' && stream.isTTY === true;
  const specs = new Map<string, SpecProgress>();
  let painted = 0;
  let lastPaint = 0;
  let timer: NodeJS.Timeout | undefined;

  const block = (): string => {
    const width = Math.max(20, (stream.columns || 80) - 1);
    const now = Date.now();
    return [...specs].map(([name, p]) => `\x1b[K${progressLine(name, p, now).slice(0, width)}\n`).join('');
  };
  const erase = () => (painted > 0 ? `\x1b[${painted}A\r\x1b[J` : '');
  const paint = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    lastPaint = Date.now();
    stream.write(erase() + block());
    painted = specs.size;
  };
  const paintSoon = () => {
    const wait = paintMs - (Date.now() - lastPaint);
    if (wait <= 0) paint();
    else timer ??= setTimeout(paint, wait).unref();
  };
  const state = (name: string): SpecProgress => {
    let p = specs.get(name);
    if (!p) {
      p = { phase: 'plan', done: 0, total: 0, moved: 0, manifests: 0 };
      specs.set(name, p);
    }
    return p;
  };

  return (e) => {
    if (logFormat === 'json') {
      const base = { time: new Date().toISOString(), event: e.kind };
      if (e.kind === 'done') stream.write(JSON.stringify({ ...base, ...outcomeDoc(e.outcome) }) + '\n');
      // Byte-level ticks are for live displays; the log keeps one line per blob, manifest and phase.
      else if (e.kind === 'progress') {
        if (e.progress.kind !== 'bytes' && e.progress.kind !== 'total') stream.write(JSON.stringify({ ...base, spec: e.spec.name, ...e.progress }) + '\n');
      } else stream.write(JSON.stringify({ ...base, spec: e.spec.name }) + '\n');
      return;
    }
    if (e.kind === 'start' || e.kind === 'planned') {
      if (live) {
        state(e.spec.name);
        paintSoon();
      }
      return;
    }
    if (e.kind === 'progress') {
      const p = state(e.spec.name);
      const g = e.progress;
      switch (g.kind) {
        case 'total':
          p.total += g.bytes;
          break;
        case 'bytes':
          p.done += g.bytes;
          p.moved += g.bytes;
          p.firstMove ??= Date.now();
          break;
        case 'blob-skipped':
        case 'blob-mounted':
          p.done += g.size ?? 0;
          break;
        case 'manifest-written':
        case 'manifest-skipped':
          p.manifests++;
          break;
        case 'phase':
          p.phase = g.phase ?? p.phase;
          if (live) paint();
          else stream.write(`${progressLine(e.spec.name, p, Date.now())}\n`);
          return;
        default:
          break;
      }
      if (live) paintSoon();
      return;
    }
    const o = e.outcome;
    const p = specs.get(o.name);
    specs.delete(o.name);
    const what = o.error ? `failed: ${o.error.message}` : `${status(o)}${o.result ? ` ${o.result.digest}` : ''}`;
    const moved = p && p.total > 0 ? `, ${humanBytes(p.done)}/${humanBytes(p.total)}, ${plural(p.manifests, 'manifest')}` : '';
    const line = `${o.name}: ${what} (${o.ms} ms${moved})\n`;
    if (!live) {
      stream.write(line);
      return;
    }
    const rest = block();
    stream.write(erase() + line + rest);
    painted = specs.size;
  };
}
