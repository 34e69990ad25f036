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

/**
 * The goal rows of issue 15 ("Performance"), each judged over the bench rows that carry its key: met when every such
 * row is met. For a missed goal the report names its first missed row, what the rows' notes say the time went to, and what
 * would close it (the closing step is the project's reading of its own profile, kept here beside the goal).
 */
export interface Goal {
  key: string;
  case: string;
  goal: string;
  close: string;
}

export const GOALS: Goal[] = [
  {
    key: 'startup', case: '`plait --version` / `plait validate` one file', goal: '≤ 1.3× / ≤ 1.6× `node -e 0`',
    close: '`--version` loads nothing but its entry file, and validate\'s modules come compiled from plait\'s own code cache on every runtime (src/cli/code-cache.ts: it keeps the functions a run compiled lazily, which Node 24\'s compile cache, used before, did not: validate 88 → 77 ms there), and its one line goes to the descriptor without making process.stdout, which for a pipe loads node:net and the stream modules. Each cache entry now holds its module\'s whole source and is compared byte for byte, so validate no longer loads node:zlib (and the stream modules behind it) for a CRC-32 (Node 24: 50.5 → 48.4 ms in isolation). What is left is Node setting up the built-ins validate needs (node:fs and node:vm for the cache), its CommonJS loader resolving some 15 chunks, deserialising the cached code and the YAML parse and validation themselves; on Node 24 `node -e 0` starts in ~0.04 s, so the same few tens of milliseconds are a larger ratio there. A V8 start-up snapshot, the remedy named here before, was measured: node:http (which undici needs) cannot be in one on either runtime, and for the yaml parser alone a snapshot started no faster than the code cache (docs/DESIGN.md, "No start-up snapshot"); what would close it is less of Node\'s own start-up, which plait does not control',
  },
  {
    key: 'noop', case: 'no-op reconcile of a 4-platform list', goal: 'wall ≤ 1.0× the fastest peer\'s equivalent (regsync, skopeo, crane); requests ≤ 0.15×',
    close: 'the wire is already minimal (2 HEADs, as regctl and regsync send), and plait\'s and undici\'s code comes compiled from a cache (see the start-up row); what is left is Node\'s own start (on Node 20 with the machine\'s NODE_EXTRA_CA_CERTS parsed at every start, when it is set: the header says what that costs here), the built-ins a registry command needs — undici loads Node\'s http and net (tls only at a first https connection, and plait no longer loads it for a host without CAs of its own), and a digest needs node:crypto, which Node sets up at every start (crypto ~4 ms on Node 20 and ~8 ms on Node 24, http ~2 and ~5 ms; undici itself is now one chunk of the bundle, its HTTP/2 half and node:http2 loaded only if a connection chose h2) — and the spec\'s own ~0.03 s, against a Go binary\'s 20–50 ms in all. On Node 24 undici\'s wasm HTTP parser had also been tiered up by V8\'s optimising compiler in the background, since `--liftoff-only` set at run time does not turn off the tier-up flags it implies at start-up; they are now off by name (a no-op there 168 → 121 ms wall in isolation). A start-up snapshot would not: node:http, which undici needs, cannot be in one, and for what can, it started no faster than the code cache (docs/DESIGN.md, "No start-up snapshot"); for many lists, one process for all of them (the many-specs rows) or the controller already does',
  },
  {
    key: 'cold-same', case: 'cold assembly and cold push on one registry', goal: 'wall ≤ 0.8× buildah and ≤ 1.0× the fastest of regctl/crane/manifest-tool; requests ≤ 0.5×',
    close: 'start-up as above is most of the gap (see the spec\'s own time in the notes); the requests are already fewer than every peer\'s, and the store\'s first lock no longer starts Node\'s ES module loader (proper-lockfile is required: cold apply 380 → 356 ms in isolation, with the undici bundling), and a new list is stored with fewer fsyncs and renames (its files side by side in a staging dir fsynced once, lock files made in place: 37 → 31 fsyncs, ~5–9 ms less wall in isolation). Of the rest, much is waiting on the registry (a cold assembly\'s CPU profile is ~65 ms idle of ~300), and more blob jobs do not shorten it: `--jobs 1`, `4` and `16` ended within 10 ms of each other (medians of 20 alternated cold applies of a 4-platform list into a new repository). What would close it is fewer requests per instance or less of plait\'s own CPU per request',
  },
  {
    key: 'cold-copy', case: 'cold copy A→B, 256 MiB', goal: 'wall ≤ 0.8× skopeo and ≤ 1.0× crane/regctl; throughput ≥ 0.9× curl',
    close: 'the curl row times one PUT from a file, with registry B the only other busy process; plait\'s row is the whole copy on the same 2 cores, registry A serving and B ingesting beside it, plus plait\'s start-up. Most of plait\'s CPU is the relay itself, and much of that is Node\'s socket I/O rather than its HTTP client: `npm run bench:relay` (16 × 8 MiB A→V, 4 at a time, no hashing) cost 0.53 s of CPU through plait\'s undici request streams, 0.63 s through node:http and 0.38 s through hand-written HTTP/1.1 on raw sockets, where crane copies the whole 256 MiB list with its digest checks in ~0.5 s. Reads of up to 1 MiB (net\'s onread) cut that relay to 0.31 s, but a real copy also pays the digest check and the scavenges that keep its memory flat: there they saved ~9 % of CPU and ~5 % of wall while the peak grew 15–32 MiB, so they are not used (docs/DESIGN.md, "Socket reads"). What would close it is the bytes moved outside the JavaScript thread, which no Node API does for one socket into another',
  },
  {
    key: 'zstd', case: 'zstd variants of the 4-platform list', goal: 'wall ≤ 0.8× skopeo, peak RSS ≤ 0.7× skopeo',
    close: 'this case copies within one registry, so the plain instances are mounts and each layer is read once, for the recompression. The registry itself spends ~1.8 s of CPU on it for either tool (serving and ingesting 256 MiB each, measured from its /proc stat), so on 2 cores the goal leaves plait about 2 s of CPU, perfectly overlapped; plait now spends about as much CPU as skopeo (see the notes). Recompression runs one layer per two cores with one zstd worker (two at once cost more CPU and peaked higher); the zstd contexts are handed on from layer to layer (one per layer had cost 30–48 mark-compacts a run), gzip input reaches node:zlib in 1 MiB pieces (64 KiB socket reads had cost a thread-pool round trip each), and a layer\'s upload tail and commit overlap with the next layer\'s GET: together 3.3 → 2.4 s wall in isolation (docs/DESIGN.md). What is left: three SHA-256s per layer on the main thread (source, diffID, upload; ~0.5 s for 256 MiB), the upload\'s socket writes, and one layer at a time, where skopeo keeps both cores busy with several. Compressing on a worker thread was built and measured: no faster, 182 MiB peak. What would close it is fewer cycles per byte on the main thread — hashing in native code off the JavaScript thread — so that two layers at once would pay',
  },
  {
    key: 'rss', case: 'peak RSS: validate / no-op / 1 GiB layer', goal: '≤ 55 / ≤ 65 / ≤ 100 MiB, flat from 16 MiB to 1 GiB',
    close: 'a copy is flat in layer size on both runtimes (scavenges paced by the bytes copied, 256 KiB stream buffers); what is left is the floor. Node 24 starts higher than Node 20 — `node -e 0` is 43 MiB against 39, and its larger binary keeps more code resident. On Node 24 the wasm HTTP parser\'s tier-up, which `--liftoff-only` set at run time did not stop, cost ~17 MiB of a no-op\'s peak (its compiler\'s zones) and is now off by name, and node:tls is loaded only for a host with CAs of its own (~3 MiB): a no-op there 85 → 64 MiB in isolation. validate no longer loads node:v8, node:fs/promises or node:util\'s lazy parts (~3 MiB less on Node 24). On Node 24 the no-op\'s peak is bimodal, ~65 or ~71 MiB with the same V8 heap (`v8.getHeapSpaceStatistics()`): the 6 MiB are node\'s own executable pages (its text in /proc/self/smaps, 23 → 28 MiB resident), paged in when V8\'s optimising compilers run on Node\'s path normalisation while ~31 modules load, which follows the install path\'s length — the same dist copied to a short path peaks at 65 MiB, at this bench\'s /tmp/plait-bench-XXXXXX/plait at 71 (docs/DESIGN.md). Loading fewer modules per command is what would lower the rest and those odds (a no-op loads undici with Node\'s http and net, node:crypto and node:fs/promises)',
  },
  {
    key: 'many100', case: '100 specs no-op in one process vs the same done with a peer in a loop', goal: '≤ 0.1×',
    close: 'start-up is paid once here, so the gap is per-spec work: spec loading and one HEAD per tag',
  },
  {
    key: 'many1000', case: '1000 specs no-op', goal: '≤ 3 s, linear',
    close: 'a no-op is one HEAD per destination (1004 in all), and both sides of it share the 2 cores: the registry spends ~2.6 s of CPU answering those HEADs and plait ~3.9 s (Node 20) or ~3.2 s (Node 24) sending them and doing the rest, so even with every part overlapped the run cannot end before ~(3.2 + 2.6) / 2 ≈ 2.9 s on Node 24. The largest single part of plait is parsing the 1000 YAML documents (~0.5 s: the yaml library reads ~1.5 MB/s), then the HTTP client and the store\'s small files (now read once each where they were read two or three times); what would close it is less CPU per spec in those, or a machine with more cores than the registry and plait need together',
  },
];

function goalVerdict(rows: Row[], g: Goal): { verdict: string; why: string } {
  const mine = rows.filter((r) => r.issueGoal === g.key);
  const judged = mine.filter((r) => r.verdict === 'met' || r.verdict === 'missed');
  if (judged.length === 0) return { verdict: mine.length === 0 ? 'not run' : 'not measurable yet', why: '' };
  const missed = judged.filter((r) => r.verdict === 'missed');
  if (missed.length === 0) return { verdict: `met (${judged.length}/${judged.length} rows)`, why: '' };
  const startup = missed.flatMap((r) => r.notes).find((n) => n.startsWith('plait reports'));
  const why = [`${missed.length} of ${judged.length} rows missed, e.g. "${missed[0]!.case}" at ${missed[0]!.ratio}`,
    ...(startup ? [startup.replace(/^plait reports/, 'there plait reports')] : [])].join('; ');
  return { verdict: `missed (${judged.length - missed.length}/${judged.length} rows met)`, why: `${why}. To close: ${g.close}` };
}

/** The goals of issue 15 with met/missed over this run's rows, and for each missed one its cause and remedy. */
export function goalsTable(rows: Row[]): string {
  const lines = ['| goal (issue 15) | target | met/missed | why missed, and what would close it |', '|---|---|---|---|'];
  for (const g of GOALS) {
    const v = goalVerdict(rows, g);
    lines.push(`| ${[g.case, g.goal, v.verdict, v.why || '—'].map(esc).join(' | ')} |`);
  }
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
    `- Node: ${r.env.versions.node ?? process.version} (the runtime plait ran on in every row)`,
    `- Date: ${r.env.date}; mode: ${r.mode}; the whole run took ${(r.elapsedS / 60).toFixed(1)} min`,
    `- Machine: ${r.env.cpus}; ${r.env.memory} memory; kernel ${r.env.kernel}; ${r.env.os}`,
    `- Versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join('; ')}`,
    ...(r.env.nodeStart !== undefined ? [`- Node start-up here: ${r.env.nodeStart}`] : []),
    ...r.fixtures.map((f) => `- Fixture: ${f}`),
    '',
    'Wall = process start to exit; peak RSS = ru_maxrss from GNU time; requests = lines in the registries\' own access',
    'logs; ratio = plait / peer (for throughput: plait / curl). Medians over the counted runs, which alternate between',
    'the tools after one discarded warm-up round. One small shared VM: compare within a run, not across machines.',
    '',
    '## Goals',
    '',
    goalsTable(r.rows),
    '',
    '## Rows',
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
