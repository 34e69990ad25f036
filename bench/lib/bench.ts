import type { Fixtures } from './fixtures.js';
import type { GoPeers } from './peers.js';
import type { RunResult } from './proc.js';
import { fmtClasses, watch } from './registry.js';
import type { BenchRegistry, Traffic } from './registry.js';
import { fmtRatio, fmtSummary, summarize } from './stats.js';
import type { Summary, Unit } from './stats.js';
import type { Tools } from './tools.js';

// The shape every case shares: contenders run alternately (A B A B …) after one warm-up round, each run watched on
// the registries it talks to; a case turns the counted samples into report rows.

export interface Sample {
  wallMs: number;
  rssKiB: number;
  /** CPU seconds (user + system) of the command: on a small shared box, what it costs besides waiting. */
  cpuS: number;
  traffic: Traffic;
  /** For a one-spec plait apply: the time plait itself reports for the spec ("name: pushed … (N ms)"). */
  reportedMs?: number;
}

export interface Contender {
  name: string;
  /** The registries whose access logs are read for this contender. */
  regs: BenchRegistry[];
  /** Untimed, unwatched set-up before each run (fresh store, new repo name, emptied peer cache…). */
  prepare?(iteration: number): Promise<void>;
  /** The measured part: one or more processes; their walls add up and the peak RSS is the largest. */
  run(iteration: number): Promise<RunResult | RunResult[]>;
  /** Untimed clean-up after each run. */
  after?(iteration: number): Promise<void>;
}

export interface CaseContext {
  tools: Tools;
  /** crane, regctl, regsync, oras, manifest-tool: their environment and versions. */
  go: GoPeers;
  fixtures: Fixtures;
  a: BenchRegistry;
  b: BenchRegistry;
  /** distribution v3 (the 2.8 registries are A and B). */
  v: BenchRegistry;
  runs: number;
  quick: boolean;
  work: string;
  log(line: string): void;
  /** Keep raw samples for results JSON. */
  record(key: string, samples: Sample[]): void;
}

export type Verdict = 'met' | 'missed' | 'info' | 'not measurable yet' | 'failed';

export interface Row {
  case: string;
  plait: string;
  peer: string;
  ratio: string;
  requests: string;
  goal: string;
  verdict: Verdict;
  /** The goal row of issue 15 this row is judged under (see GOALS in report.ts). */
  issueGoal?: string;
  /** What the access logs show (first counted run of each side), and any diagnosis the case can state from data. */
  notes: string[];
}

export interface BenchCase {
  name: string;
  title: string;
  run(ctx: CaseContext): Promise<Row[]>;
}

// The spec's closing line: `NAME: in-sync … (12 ms)` or, after a push, `NAME: pushed sha256:… (2660 ms, 256.0 MiB/…)`.
const REPORTED = /^[a-z0-9.-]+: (?:pushed|in-sync|[a-z-]+) .*\((\d+) ms(?:\)$|, )/gm;

function combine(r: RunResult | RunResult[]): Omit<Sample, 'traffic'> {
  const all = Array.isArray(r) ? r : [r];
  const out: Omit<Sample, 'traffic'> = {
    wallMs: all.reduce((a, x) => a + x.wallMs, 0),
    rssKiB: Math.max(0, ...all.map((x) => x.rssKiB)),
    cpuS: all.reduce((a, x) => a + x.cpuS, 0),
  };
  const reported = [...(all[all.length - 1]?.stderr ?? '').matchAll(REPORTED)];
  if (reported.length === 1) out.reportedMs = Number(reported[0]![1]);
  return out;
}

/** Warm-up round (discarded), then `runs` counted rounds; within a round the contenders go in order. */
export async function alternate(ctx: CaseContext, label: string, contenders: Contender[], runs: number): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]));
  for (let i = 0; i <= runs; i++) {
    for (const c of contenders) {
      await c.prepare?.(i);
      const { value, traffic } = await watch(c.regs, () => c.run(i));
      await c.after?.(i);
      const s = { ...combine(value), traffic };
      if (i > 0) out.get(c.name)!.push(s);
      ctx.log(`[${label}] ${i === 0 ? 'warm-up' : `run ${i}/${runs}`} ${c.name}: ${(s.wallMs / 1000).toFixed(3)} s, `
        + `cpu ${s.cpuS.toFixed(2)} s, ${(s.rssKiB / 1024).toFixed(0)} MiB, ${traffic.requests} requests`);
    }
  }
  for (const [name, samples] of out) ctx.record(`${label}/${name}`, samples);
  return out;
}

export const wallS = (s: Sample[]): Summary => summarize(s.map((x) => x.wallMs / 1000));
export const rssMiB = (s: Sample[]): Summary => summarize(s.map((x) => x.rssKiB / 1024));
export const reqs = (s: Sample[]): Summary => summarize(s.map((x) => x.traffic.requests));
export const cpu = (s: Sample[]): Summary => summarize(s.map((x) => x.cpuS));

export function cell(s: Summary, unit: Unit): string {
  return fmtSummary(s, unit);
}

export function ratioCell(a: Summary, b: Summary): string {
  return fmtRatio(a.median / b.median);
}

/** "2 / 36 (0.056×)" */
export function requestsCell(p: Sample[], q: Sample[] | undefined): string {
  const a = reqs(p).median;
  if (!q) return `${fmtSummary(reqs(p), 'req')} / —`;
  const b = reqs(q).median;
  return `${fmtSummary(reqs(p), 'req')} / ${fmtSummary(reqs(q), 'req')}${b > 0 ? ` (${fmtRatio(a / b)})` : ''}`;
}

/** Access-log classification of the first counted run of each side, then peak RSS and CPU time of each side. */
export function trafficNotes(sides: Array<[string, Sample[]]>): string[] {
  const present = sides.filter(([, s]) => s.length > 0);
  return [
    ...present.map(([name, s]) => `${name}: ${s[0]!.traffic.requests} requests — ${fmtClasses(s[0]!.traffic.classes)}`),
    present.map(([name, s]) => `${name} peak RSS ${fmtSummary(rssMiB(s), 'MiB')}, CPU (user+sys) ${fmtSummary(cpu(s), 's')}`).join('; '),
  ];
}

/** "plait's own time for the spec: 0.26 s of 0.70 s wall" — what process start-up and loading cost besides the work. */
export function reportedNote(p: Sample[]): string[] {
  const r = p.map((x) => x.reportedMs).filter((x): x is number => x !== undefined);
  if (r.length !== p.length || r.length === 0) return [];
  const inProc = summarize(r.map((x) => x / 1000)).median;
  const wall = wallS(p).median;
  return [`plait reports ${inProc.toFixed(2)} s for the spec itself (median) of ${wall.toFixed(2)} s wall: ${(wall - inProc).toFixed(2)} s is process start, module loading, spec loading and exit`];
}

export function verdict(ok: boolean): Verdict {
  return ok ? 'met' : 'missed';
}

/** A row for a case that could not run: the reason takes the cells. */
export function failedRow(caseLabel: string, goal: string, reason: string, v: Verdict = 'failed'): Row {
  return { case: caseLabel, plait: v === 'not measurable yet' ? 'not measurable yet' : 'failed', peer: '—', ratio: '—', requests: '—', goal, verdict: v, notes: [reason.trim()] };
}
