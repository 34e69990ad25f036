// npm run torture [-- OPTIONS]   (--help lists them)
//
// Randomized proof that plait loses nothing: fault runs through a seeded fault proxy in front of the lab's token-auth
// registry, SIGKILLed runs (failpoints and random timers), and concurrent writers on one store and one registry. After
// every run a checker walks the destination straight on the registry, and the store is audited. Every run has its own
// repository and its own store, so a seed names the same run whatever ran before it or beside it (--parallel).
// Loopback only; bounded in count and in time. Exit 1 on any violation (or when --full was cut short).

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from '../lab/lab.js';
import { generateLayout } from '../lab/fixtures/generate.js';
import { startTortureProxy, rng } from './fault-proxy.js';
import type { TortureProxy } from './fault-proxy.js';
import { Checker } from './checker.js';
import type { CheckOptions, CheckResult, RegistryAccess, Violation, ViolationKind } from './checker.js';
import { auditStore, clearFailure, oneLine, plait, specYaml, PLATFORMS, RUN_LIMIT_MS, TAGS } from './steps.js';
import type { Ran } from './steps.js';
import { summary } from './summary.js';
import type { Stats } from './summary.js';

const HELP = `npm run torture -- [options]

  --seed N              first fault seed (default 1); crash seeds start at N+100000
  --runs N              fault runs, seeds N.. (default 4)
  --crash-runs N        SIGKILLed runs, each followed by a clean re-run (default 3)
  --concurrency-runs N  rounds of 6 concurrent writers on one store and one repository (default 1)
  --parallel N          fault and crash runs at once, each with its own proxy, store and repository (default 1)
  --max-fault-rate R    upper bound of the per-request fault chance drawn per seed (default 0.035)
  --time-limit S        start no new run after S seconds (default 170)
  --full                full mode: --runs 200 --crash-runs 50 --concurrency-runs 4 --parallel 4 --time-limit 10800;
                        explicit options win; exit 1 if the time limit cuts it short
  --keep                keep the lab and the work directory
  --help                this text
`;

interface Options {
  seed: number; runs: number; crashRuns: number; concurrencyRuns: number; parallel: number; maxRate: number;
  timeLimitS: number; keep: boolean; full: boolean; argv: string[];
}

function parseOptions(argv: string[]): Options | undefined {
  const o: Options = { seed: 1, runs: 4, crashRuns: 3, concurrencyRuns: 1, parallel: 1, maxRate: 0.035, timeLimitS: 170, keep: false, full: false, argv };
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`torture: ${a} needs a value`);
      explicit.add(a);
      return v;
    };
    const int = (min = 0) => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < min) throw new Error(`torture: ${a} takes an integer >= ${min}`);
      return v;
    };
    if (a === '--seed') o.seed = int();
    else if (a === '--runs') o.runs = int();
    else if (a === '--crash-runs') o.crashRuns = int();
    else if (a === '--concurrency-runs') o.concurrencyRuns = int();
    else if (a === '--parallel') o.parallel = int(1);
    else if (a === '--time-limit') o.timeLimitS = int();
    else if (a === '--max-fault-rate') {
      const v = Number(value());
      if (!(v > 0.005 && v <= 1)) throw new Error('torture: --max-fault-rate takes a number in (0.005, 1]');
      o.maxRate = v;
    } else if (a === '--full') o.full = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--help' || a === '-h') return undefined;
    else throw new Error(`torture: unknown argument ${a} (see --help)`);
  }
  if (o.full) {
    if (!explicit.has('--runs')) o.runs = 200;
    if (!explicit.has('--crash-runs')) o.crashRuns = 50;
    if (!explicit.has('--concurrency-runs')) o.concurrencyRuns = 4;
    if (!explicit.has('--parallel')) o.parallel = 4;
    if (!explicit.has('--time-limit')) o.timeLimitS = 3 * 3600;
  }
  return o;
}

/** What every run needs: the lab, keys, the checker and where its results go. */
interface Ctx {
  o: Options;
  work: string;
  access: RegistryAccess;
  creds: string[];
  keyFile: string;
  passFile: string;
  checker: Checker;
  stats: Stats;
  violations: Violation[];
}

/** One lane of --parallel: its own fault proxy in front of the registry. */
interface Lane { id: number; proxy: TortureProxy }

/** Faulty runs may give up on a silent registry quickly (the stall fault); clean runs must never time out spuriously. */
const FAULTY_ENV = { PLAIT_REGISTRY_TIMEOUT: '1' };
const CLEAN_ENV = { PLAIT_REGISTRY_TIMEOUT: '60' };

function record(ctx: Ctx, kind: ViolationKind, text: string): void {
  ctx.violations.push({ kind, text });
}

async function check(ctx: Ctx, o: CheckOptions, label: string): Promise<CheckResult> {
  const r = await ctx.checker.check(o);
  ctx.stats.checks++;
  ctx.stats.blobs += r.blobsVerified;
  ctx.stats.present += r.presenceChecked;
  ctx.stats.signatures += r.signaturesVerified;
  for (const v of r.violations) ctx.violations.push({ kind: v.kind, text: `${label}: ${v.text}` });
  return r;
}

/** A failed run must be a clear one; its line is tallied by shape. */
function judgeFailure(ctx: Ctx, r: Ran, label: string): void {
  const why = clearFailure(r);
  if (why) return record(ctx, 'unclear-failure', `${label}: ${why}`);
  ctx.stats.failedClear++;
  const line = oneLine(r).replace(/sha256:[0-9a-f]{64}/g, 'sha256:…').replace(/127\.0\.0\.1:\d+/g, 'HOST').replace(/\d+/g, 'N');
  ctx.stats.failures.set(line, (ctx.stats.failures.get(line) ?? 0) + 1);
}

async function audit(ctx: Ctx, store: string, label: string): Promise<void> {
  for (const p of await auditStore(store)) record(ctx, p.kind, `${label}: ${p.text}`);
}

/**
 * A fault run: (for a quarter of the seeds) a clean apply of a previous version first, so the faulty apply replaces lists
 * under existing tags; the apply with faults on; a check (a tag may name the old list or the new one, never a list
 * with anything missing); a clean apply with faults off; a check that everything is there; plan says in sync.
 */
async function faultRun(ctx: Ctx, lane: Lane, seed: number): Promise<void> {
  const r = rng(seed);
  const rate = 0.005 + r() * (ctx.o.maxRate - 0.005);
  const update = r() < 0.25;
  const P = lane.proxy.host;
  const source = `${P}/src/app:multi`;
  const repo = `torture/f${seed}`;
  const dir = join(ctx.work, `f${seed}`);
  const store = join(dir, 'store');
  await mkdir(dir, { recursive: true });
  const specFile = join(dir, 'spec.yaml');
  const keys = { keyFile: ctx.keyFile, passFile: ctx.passFile };
  await writeFile(specFile, specYaml(`f${seed}`, `${P}/${repo}`, source, { run: String(seed), ...keys }));
  const label = `seed ${seed}`;
  const ms: string[] = [];
  let t = Date.now();
  const lap = (name: string) => {
    const now = Date.now();
    ms.push(`${name} ${now - t}`);
    t = now;
  };
  const apply = (env: NodeJS.ProcessEnv) => plait(['apply', '--store', store, ...ctx.creds, specFile], env);

  if (update) {
    const prevFile = join(dir, 'prev.yaml');
    await writeFile(prevFile, specYaml(`f${seed}`, `${P}/${repo}`, source, { run: `${seed}-previous`, ...keys }));
    const prev = await plait(['apply', '--store', store, ...ctx.creds, prevFile], CLEAN_ENV);
    if (prev.code !== 0) record(ctx, 'not-converged', `${label}: the clean apply of the previous version failed: ${oneLine(prev)}`);
    lap('previous');
  }

  lane.proxy.reset(seed, rate);
  lane.proxy.enabled = true;
  const faulty = await apply(FAULTY_ENV);
  lane.proxy.enabled = false;
  lap('apply');
  ctx.stats.runs++;
  if (faulty.timedOut) record(ctx, 'hang', `${label}: apply hung past ${RUN_LIMIT_MS / 1000}s`);
  else if (faulty.code === 0) ctx.stats.converged++;
  else judgeFailure(ctx, faulty, label);
  // Any tag that resolves names a whole list: the previous one or the new one, 8 children, everything present.
  const after = await check(ctx, { repository: repo, tags: TAGS, children: 8 }, `${label} after the faulty apply`);
  // Signatures may lag (a list is signed once its tags name it), but a tag that named a list goes on naming one.
  for (const tag of update ? TAGS : []) if (!after.tags[tag]) record(ctx, 'tag-incomplete', `${label}: tag ${tag} vanished during the faulty apply`);
  lap('check');

  const clean = await apply(CLEAN_ENV);
  if (clean.code !== 0) record(ctx, 'not-converged', `${label}: the clean re-run did not converge: ${oneLine(clean)}`);
  else ctx.stats.cleanConverged++;
  lap('clean');
  await check(ctx, { repository: repo, tags: TAGS, complete: { children: 8 } }, `${label} after the clean apply`);
  lap('check');
  const plan = await plait(['plan', '--exit-code', '--store', store, ...ctx.creds, specFile], CLEAN_ENV);
  if (plan.code !== 0) record(ctx, 'not-converged', `${label}: plan after the clean apply exits ${plan.code}: ${oneLine(plan)}`);
  else ctx.stats.planInSync++;
  lap('plan');
  await audit(ctx, store, label);
  if (!ctx.o.keep) await rm(dir, { recursive: true, force: true });
  process.stderr.write(`torture: fault seed ${seed} (rate ${rate.toFixed(3)}${update ? ', update' : ''}): ${faulty.code === 0 ? 'converged' : `failed: ${oneLine(faulty)}`} (${ms.join(', ')} ms)\n`);
}

/** A crash run: SIGKILL at a failpoint or at a random moment, then a clean re-run, the store audit and a check. */
async function crashRun(ctx: Ctx, lane: Lane, seed: number): Promise<void> {
  const r = rng(seed);
  const kind = (['apply', 'manifest push', 'manifest add'] as const)[seed % 3]!;
  const P = lane.proxy.host;
  const source = `${P}/src/app:multi`;
  const dir = join(ctx.work, `c${seed}`);
  await mkdir(dir, { recursive: true });
  const cenv = { ...CLEAN_ENV, PLAIT_STORE: join(dir, 'store') };
  const repo = `torture/c${seed}`;
  const label = `crash seed ${seed} (${kind})`;
  const t0 = Date.now();
  // Half the kills at the Nth atomic rename, half on a timer somewhere in the run.
  const byFailpoint = r() < 0.5;
  const kill = byFailpoint ? { PLAIT_FAILPOINT: `before-rename:${1 + Math.floor(r() * 12)}` } : {};
  const killAfterMs = byFailpoint ? undefined : 150 + Math.floor(r() * 2500);
  const list = `crash-list-${seed}`;
  const keys = { keyFile: ctx.keyFile, passFile: ctx.passFile };
  const pushArgs = ['manifest', 'push', '--all', ...ctx.creds, '--add-compression', 'zstd', '--sign-by-sigstore-private-key', ctx.keyFile,
    '--sign-passphrase-file', ctx.passFile, list, `docker://${P}/${repo}:v1`];
  let first: Ran;
  let again: () => Promise<Ran>;
  let tags = ['v1'];
  if (kind === 'apply') {
    const specFile = join(dir, 'spec.yaml');
    await writeFile(specFile, specYaml(`crash-${seed}`, `${P}/${repo}`, source, { run: String(seed), ...keys }));
    tags = TAGS;
    first = await plait(['apply', ...ctx.creds, specFile], { ...cenv, ...kill }, { ...(killAfterMs !== undefined && { killAfterMs }) });
    again = () => plait(['apply', ...ctx.creds, specFile], cenv);
  } else if (kind === 'manifest push') {
    const mk = await plait(['manifest', 'create', list], cenv);
    const add = await plait(['manifest', 'add', '--all', ...ctx.creds, list, `docker://${source}`], cenv);
    if (mk.code !== 0 || add.code !== 0) record(ctx, 'not-converged', `${label}: preparing the list failed: ${oneLine(mk)} ${oneLine(add)}`);
    first = await plait(pushArgs, { ...cenv, ...kill }, { ...(killAfterMs !== undefined && { killAfterMs }) });
    again = () => plait(pushArgs, cenv);
  } else {
    const mk = await plait(['manifest', 'create', list], cenv);
    if (mk.code !== 0) record(ctx, 'not-converged', `${label}: manifest create failed: ${oneLine(mk)}`);
    const addArgs = ['manifest', 'add', '--all', ...ctx.creds, list, `docker://${source}`];
    first = await plait(addArgs, { ...cenv, ...kill }, { ...(killAfterMs !== undefined && { killAfterMs: Math.floor(killAfterMs / 3) }) });
    again = async () => {
      const a = await plait(addArgs, cenv);
      if (a.code !== 0) return a;
      return plait(pushArgs, cenv);
    };
  }
  const t1 = Date.now();
  ctx.stats.crashRuns++;
  if (first.signal === 'SIGKILL') ctx.stats.crashKilled++;
  else if (first.code !== 0) record(ctx, 'not-converged', `${label}: the run before the kill failed: ${oneLine(first)}`);
  const re = await again();
  const t2 = Date.now();
  // A re-run that hung was SIGKILLed here: what it left in the store is this harness's doing, not plait's.
  if (re.timedOut) record(ctx, 'hang', `${label}: the re-run hung past ${RUN_LIMIT_MS / 1000}s (a stale lock?)`);
  else if (re.code !== 0) record(ctx, /E_LOCKED|is locked by/.test(re.stderr) ? 'stale-lock' : 'not-converged', `${label}: the re-run did not converge: ${oneLine(re)}`);
  else ctx.stats.crashConverged++;
  if (!re.timedOut) await audit(ctx, cenv.PLAIT_STORE, label);
  const inspect = await plait(['manifest', 'inspect', kind === 'apply' ? `crash-${seed}` : list], cenv);
  if (inspect.code !== 0) record(ctx, 'store-corrupt', `${label}: the stored list does not load: ${oneLine(inspect)}`);
  else {
    const doc = JSON.parse(inspect.stdout) as { manifests?: unknown[] };
    if ((doc.manifests?.length ?? 0) < 4) record(ctx, 'store-corrupt', `${label}: the stored list has ${doc.manifests?.length} instances`);
  }
  await check(ctx, { repository: repo, tags, complete: { children: 8 } }, label);
  if (!ctx.o.keep) await rm(dir, { recursive: true, force: true });
  process.stderr.write(`torture: crash seed ${seed} ${kind} (${byFailpoint ? kill.PLAIT_FAILPOINT : `kill after ${killAfterMs} ms`}): ${first.signal === 'SIGKILL' ? 'killed' : `ended ${first.code}`}, re-run ${re.code === 0 ? 'converged' : 'FAILED'} (run ${t1 - t0}, re-run ${t2 - t1}, audit+check ${Date.now() - t2} ms)\n`);
}

/** Concurrent writers: 6 processes, overlapping specs (one repository, one shared tag, one store). */
async function concurrencyRound(ctx: Ctx, lane: Lane, i: number): Promise<void> {
  const n = 4;
  const P = lane.proxy.host;
  const source = `${P}/src/app:multi`;
  const cstore = join(ctx.work, `conc-store-${i}`);
  const env = { ...CLEAN_ENV, PLAIT_STORE: cstore };
  const repo = `torture/conc-${i}`;
  const keys = { keyFile: ctx.keyFile, passFile: ctx.passFile };
  const specs = Array.from({ length: n }, (_, j) => {
    const platforms = PLATFORMS.filter((_, k) => k !== j % PLATFORMS.length);
    return { name: `conc-${i}-${j}`, platforms, file: join(ctx.work, `conc-${i}-${j}.yaml`), tag: `t${j}` };
  });
  for (const s of specs) {
    await writeFile(s.file, specYaml(s.name, `${P}/${repo}`, source, { platforms: s.platforms, ...keys, tags: [s.tag, 'shared'] }));
  }
  // The same spec applied by two more processes at once: writers on one record.
  const runs = await Promise.all([
    ...specs.map((s) => plait(['apply', ...ctx.creds, s.file], env)),
    plait(['apply', ...ctx.creds, specs[0]!.file], env),
    plait(['apply', ...ctx.creds, specs[1]!.file], env),
  ]);
  ctx.stats.concurrencyRuns++;
  ctx.stats.concurrentWriters += runs.length;
  const label = `concurrency round ${i}`;
  runs.forEach((r, k) => {
    if (r.code !== 0) record(ctx, /E_LOCKED|is locked by/.test(r.stderr) ? 'stale-lock' : 'lost-update', `${label}: writer ${k} failed: ${oneLine(r)}`);
  });
  const tagDigests: Record<string, string> = {};
  for (const s of specs) {
    const c = await check(ctx, { repository: repo, tags: [s.tag], children: s.platforms.length * 2 }, `${label} ${s.name}`);
    const d = c.tags[s.tag];
    if (!d) {
      record(ctx, 'lost-update', `${label}: tag ${s.tag} of ${s.name} does not resolve`);
      continue;
    }
    tagDigests[s.tag] = d;
    // The list under the spec's own tag has exactly the spec's platforms (gzip and zstd each).
    const got = c.platforms[s.tag] ?? [];
    const want = [...s.platforms, ...s.platforms].map((p) => p.split('/').slice(1).join('/'));
    if (JSON.stringify(got) !== JSON.stringify(want)) record(ctx, 'lost-update', `${label}: tag ${s.tag} names a list of ${got.join(',')}, the spec made ${want.join(',')}`);
    const hist = await plait(['history', '-o', 'json', s.name], { PLAIT_STORE: cstore });
    const entries = JSON.parse(hist.stdout || '[]') as Array<{ digest: string }>;
    if (!entries.some((e) => e.digest === d)) record(ctx, 'lost-update', `${label}: ${s.name}'s history does not hold ${d}`);
  }
  const shared = await check(ctx, { repository: repo, tags: ['shared'] }, `${label} shared`);
  const sd = shared.tags.shared;
  if (!sd || !Object.values(tagDigests).includes(sd)) record(ctx, 'lost-update', `${label}: tag shared names ${sd}, which no spec produced`);
  await audit(ctx, cstore, label);
  process.stderr.write(`torture: concurrency round ${i + 1}/${ctx.o.concurrencyRuns}: ${runs.filter((r) => r.code === 0).length}/${runs.length} writers ok\n`);
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) {
    process.stdout.write(HELP);
    return 0;
  }
  const started = Date.now();
  const deadline = started + o.timeLimitS * 1000;
  const lab = await startLab({ only: ['token'], keep: o.keep });
  const work = await mkdtemp(join(tmpdir(), 'plait-torture-'));
  // Stopped by hand: no registry or work directory outlives the run.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void Promise.allSettled([lab.stop(), o.keep ? undefined : rm(work, { recursive: true, force: true })]).then(() => process.exit(130));
    });
  }
  const lanes: Lane[] = [];
  const t = lab.info.token;
  const stats: Stats = {
    runs: 0, converged: 0, failedClear: 0, cleanConverged: 0, planInSync: 0, crashRuns: 0, crashKilled: 0, crashConverged: 0,
    concurrencyRuns: 0, concurrentWriters: 0, checks: 0, blobs: 0, present: 0, signatures: 0, failures: new Map(), injected: {}, requests: 0,
  };
  const violations: Violation[] = [];
  try {
    // Keys and the 4-platform source (2 small layers each: the faults are about the protocol, not about size), pushed
    // straight to the registry once per invocation; every run reads it through its lane's proxy.
    const keyDir = join(work, 'keys');
    await mkdir(keyDir);
    const passFile = join(keyDir, 'pass');
    await writeFile(passFile, 'torture pass phrase\n', { mode: 0o600 });
    const gen = await plait(['key', 'generate', '--prefix', join(keyDir, 'cosign'), '--passphrase-file', passFile], {});
    if (gen.code !== 0) throw new Error(`key generate: ${gen.stderr}`);
    const layout = await generateLayout({
      dir: join(work, 'source'), tag: 'multi', seed: 'plait-torture', index: true,
      images: ['amd64', 'arm64/v8', 'arm/v7', 's390x'].map((a) => {
        const [architecture, variant] = a.split('/');
        return { platform: { os: 'linux', architecture: architecture!, ...(variant && { variant }) }, layers: 2, layerSize: 8192, data: 'random' as const };
      }),
    });
    const creds = ['--plain-http', '--creds', `${t.pusher.name}:${t.pusher.password}`];
    const seedSpec = join(work, 'source.yaml');
    await writeFile(seedSpec, [
      'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', 'metadata: {name: torture-source}', 'spec:',
      `  destination: {image: ${t.host}/src/app, tags: [multi]}`, `  sources: [{image: "oci:${layout.dir}:multi"}]`, '',
    ].join('\n'));
    const seeded = await plait(['apply', '--store', join(work, 'seed-store'), ...creds, seedSpec], CLEAN_ENV);
    if (seeded.code !== 0) throw new Error(`pushing the source failed: ${seeded.stderr}`);

    const access: RegistryAccess = { url: t.url, realm: t.realm, service: t.service, user: t.pusher.name, password: t.pusher.password };
    const ctx: Ctx = { o, work, access, creds, keyFile: join(keyDir, 'cosign.key'), passFile, checker: new Checker(access, join(keyDir, 'cosign.pub')), stats, violations };
    const challenge = `Bearer realm="${t.realm}",service="${t.service}"`;
    for (let i = 0; i < o.parallel; i++) lanes.push({ id: i, proxy: await startTortureProxy(t.host, { seed: o.seed, rate: 0, challenge }) });
    process.stderr.write(`torture: lab and fixtures ready in ${Date.now() - started} ms\n`);

    // Fault runs, then crash runs, from one queue that the lanes drain.
    // Crash runs spread evenly among the fault runs, so a time limit cuts both in proportion.
    const jobs: Array<{ at: number; run: (lane: Lane) => Promise<void> }> = [
      ...Array.from({ length: o.runs }, (_, i) => ({ at: (i + 0.5) / o.runs, run: (lane: Lane) => faultRun(ctx, lane, o.seed + i) })),
      ...Array.from({ length: o.crashRuns }, (_, i) => ({ at: (i + 0.5) / o.crashRuns, run: (lane: Lane) => crashRun(ctx, lane, o.seed + 100_000 + i) })),
    ].sort((a, b) => a.at - b.at);
    let next = 0;
    await Promise.all(lanes.map(async (lane) => {
      while (next < jobs.length && Date.now() < deadline) await jobs[next++]!.run(lane);
    }));
    for (let i = 0; i < o.concurrencyRuns && Date.now() < deadline; i++) await concurrencyRound(ctx, lanes[0]!, i);

    for (const lane of lanes) {
      stats.requests += lane.proxy.requests;
      for (const [k, v] of Object.entries(lane.proxy.injected)) stats.injected[k] = (stats.injected[k] ?? 0) + v;
    }
    const cut = stats.runs < o.runs || stats.crashRuns < o.crashRuns || stats.concurrencyRuns < o.concurrencyRuns;
    process.stdout.write(summary({
      stats, violations, seconds: Math.round((Date.now() - started) / 1000), firstSeed: o.seed, parallel: o.parallel, argv: o.argv,
      ...(cut && { cut: `the ${o.timeLimitS}s time limit stopped it after ${stats.runs}/${o.runs} fault runs, ${stats.crashRuns}/${o.crashRuns} crash runs, ${stats.concurrencyRuns}/${o.concurrencyRuns} concurrency rounds` }),
    }));
    return violations.length === 0 && !(cut && o.full) ? 0 : 1;
  } finally {
    for (const lane of lanes) await lane.proxy.close();
    await lab.stop();
    if (!o.keep) await rm(work, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`torture: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
