// plait's benchmark against its peers (skopeo, buildah, curl) on real registries of the test lab.
//
//   npm run bench [-- --cases noop,cold-copy] [-- --runs N] [-- --quick] [-- --keep]
//
// Starts two plain lab registries (A holds the sources; B is "another registry"), makes the fixtures with the
// project's generator, runs each selected case (plait and the peer alternately, one warm-up round, then --runs
// counted rounds) and writes bench/results/LATEST.md plus bench/results/latest.json (raw samples, git-ignored).

import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLab } from '../test/lab/lab.js';
import type { Lab } from '../test/lab/lab.js';
import { bigLayer } from './cases/big-layer.js';
import { coldCopy, coldCopyV3 } from './cases/cold-copy.js';
import { coldSame, coldSameV3 } from './cases/cold-same.js';
import { manySpecs } from './cases/many-specs.js';
import { noop, noopV3 } from './cases/noop.js';
import { validate } from './cases/validate.js';
import { zstd } from './cases/zstd.js';
import { failedRow } from './lib/bench.js';
import type { BenchCase, CaseContext, Row, Sample } from './lib/bench.js';
import { describeEnvironment } from './lib/env.js';
import { Fixtures, FULL_SIZES, QUICK_SIZES } from './lib/fixtures.js';
import { ensureGoPeers, regctlPlainHttp } from './lib/peers.js';
import { measure } from './lib/proc.js';
import type { BenchRegistry } from './lib/registry.js';
import { goalsTable, markdownReport, markdownTable, tally } from './lib/report.js';
import { makeTools } from './lib/tools.js';

const CASES: BenchCase[] = [noop, noopV3, coldSame, coldSameV3, coldCopy, coldCopyV3, bigLayer, zstd, manySpecs, validate];

const USAGE = `usage: npm run bench -- [--cases ${CASES.map((c) => c.name).join(',')}] [--runs N] [--quick] [--keep] [--node PATH] [--out FILE]

  --cases LIST  run only these cases (comma-separated; default: all)
  --runs N      counted runs per tool after one warm-up round (default 5; 1 with --quick)
  --quick       small fixtures (16 MiB list, 1/4/16 MiB layers, 5/15/50 specs) and 1 counted run
  --keep        keep the scratch directory (fixtures, stores, registry data) for inspection
  --node PATH   run plait (and the node -e 0 floor) on this Node binary instead of the one running the bench
  --jobs N      pass --jobs N to plait in the cold-copy cases (default: plait's own default)
  --out FILE    the report's name in bench/results (default LATEST.md; e.g. LATEST-node24.md for a --node run)
`;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = join(repoRoot, 'bench', 'results');

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/**
 * Build plait from src/ into a private snapshot (WORK/plait/{dist,schemas,package.json,node_modules→repo}), so the
 * whole run measures one build even if dist/ is rebuilt meanwhile. Returns the snapshot's root.
 */
async function buildSnapshot(work: string): Promise<string> {
  const root = join(work, 'plait');
  await mkdir(root, { recursive: true });
  await cp(join(repoRoot, 'package.json'), join(root, 'package.json'));
  await cp(join(repoRoot, 'schemas'), join(root, 'schemas'), { recursive: true });
  await symlink(join(repoRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
  // The same bundle `npm run build` makes (what users run), into the snapshot.
  const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const r = await measure(process.execPath, [tsx, join(repoRoot, '.ci', 'bundle.ts'), '--outdir', join(root, 'dist')],
    { allowFail: true, cwd: repoRoot });
  if (r.code !== 0 || !existsSync(join(root, 'dist', 'cli', 'main.js'))) throw new Error(`the build of src/ failed:\n${r.stdout}`);
  log(`built src/ into ${root} (${(r.wallMs / 1000).toFixed(1)} s)`);
  return root;
}

function requireTools(): void {
  const missing = ['/usr/bin/skopeo', '/usr/bin/buildah', '/usr/bin/curl', '/usr/bin/docker-registry'].filter((p) => !existsSync(p));
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: run "npm run lab:install" (as root)`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' },
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      node: { type: 'string' },
      jobs: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const quick = values.quick === true;
  const out = values.out ?? 'LATEST.md';
  if (!/^[\w.-]+\.md$/.test(out)) throw new Error(`--out wants a file name ending in .md (written in bench/results), got ${out}`);
  const runs = values.runs !== undefined ? Number(values.runs) : quick ? 1 : 5;
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`--runs wants an integer 1…50, got ${values.runs}`);
  const wanted = values.cases ? values.cases.split(',').map((s) => s.trim()).filter(Boolean) : CASES.map((c) => c.name);
  const unknown = wanted.filter((w) => !CASES.some((c) => c.name === w));
  if (unknown.length > 0) throw new Error(`unknown case(s) ${unknown.join(', ')}; known: ${CASES.map((c) => c.name).join(', ')}`);
  const selected = CASES.filter((c) => wanted.includes(c.name));

  const started = Date.now();
  requireTools();
  const work = await mkdtemp(join(tmpdir(), 'plait-bench-'));
  const node = values.node ? resolve(values.node) : process.execPath;
  const jobs = values.jobs !== undefined ? Number(values.jobs) : undefined;
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new Error(`--jobs wants a positive integer, got ${values.jobs}`);
  const env = await describeEnvironment(repoRoot, node);
  const labs: Lab[] = [];
  const stopAll = async () => {
    await Promise.all(labs.map((l) => l.stop()));
    labs.length = 0;
    if (!values.keep) await rm(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    log('interrupted: stopping the registries');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const raw: Record<string, Sample[]> = {};
  const rows: Row[] = [];
  let fixtures: Fixtures | undefined;
  try {
    const plaitRoot = await buildSnapshot(work);
    labs.push(await startLab({ only: ['plain'] }), await startLab({ only: ['plain'] }));
    const a: BenchRegistry = { label: 'A', host: labs[0]!.info.plain.host, accessLog: labs[0]!.info.plain.accessLog };
    const b: BenchRegistry = { label: 'B', host: labs[1]!.info.plain.host, accessLog: labs[1]!.info.plain.accessLog };
    const go = await ensureGoPeers(work, log);
    // distribution v3 is the lab's own (test/lab), started once the Go peers (it among them) are built.
    labs.push(await startLab({ only: ['v3'] }));
    const v: BenchRegistry = { label: 'V', host: labs[2]!.info.v3.host, accessLog: labs[2]!.info.v3.accessLog };
    await regctlPlainHttp(go, [a.host, b.host, v.host]);
    env.versions = { ...env.versions, ...go.versions };
    log(`registries: A ${a.host}, B ${b.host} (2.8), V ${v.host} (distribution v3); scratch ${work}`);
    const tools = { ...(await makeTools(work, plaitRoot, node)), ...(jobs !== undefined && { copyJobs: jobs }) };
    fixtures = new Fixtures(work, a, quick ? QUICK_SIZES : FULL_SIZES, log);
    const ctx: CaseContext = {
      tools, go, fixtures, a, b, v, runs, quick, work, log,
      record: (key, samples) => {
        raw[key] = samples;
      },
    };
    for (const c of selected) {
      const t = Date.now();
      const loadBefore = loadavg()[0]!;
      log(`case ${c.name}: ${c.title}`);
      let caseRows: Row[];
      try {
        caseRows = await c.run(ctx);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        log(`case ${c.name} failed: ${msg}`);
        caseRows = [failedRow(`${c.name}: ${c.title}`, '—', msg)];
      }
      // The machine may be shared: say how busy it was, so a noisy row can be recognised.
      const load = `machine load (1-min average) ${loadBefore.toFixed(2)} before the case, ${loadavg()[0]!.toFixed(2)} after; ${availableParallelism()} CPUs`;
      caseRows[0]?.notes.push(load);
      rows.push(...caseRows);
      log(`case ${c.name} done in ${((Date.now() - t) / 1000).toFixed(0)} s (${load})`);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
  }

  const mode = `${quick ? 'quick' : 'full'}, ${runs} counted run${runs === 1 ? '' : 's'} per tool after one warm-up${jobs !== undefined ? `; plait --jobs ${jobs} in cold-copy` : ''}`
    + `${selected.length < CASES.length ? `; cases: ${selected.map((c) => c.name).join(', ')} only` : ''}`;
  const fixtureLines = [...(fixtures?.made ?? []), 'all layers: random data, gzip level 0 (stored), from test/lab/fixtures/generate.ts; registry A holds them'];
  const elapsedS = (Date.now() - started) / 1000;
  const md = markdownReport({ env, mode, fixtures: fixtureLines, rows, elapsedS });
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, out), md);
  await writeFile(join(resultsDir, out.replace(/^LATEST/, 'latest').replace(/\.md$/, '.json')), JSON.stringify({ env, mode, rows, samples: raw }, null, 2));
  process.stdout.write(`\n${goalsTable(rows)}\n\n${markdownTable(rows)}\n\nResult: ${tally(rows)} (${(elapsedS / 60).toFixed(1)} min). Written to bench/results/${out}\n`);
  return rows.some((r) => r.verdict === 'failed') ? 1 : 0;
}

main().then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  log(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
