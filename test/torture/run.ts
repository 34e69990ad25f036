// npm run torture [-- --seed N --runs N --crash-runs N --concurrency-runs N --full --time-limit SECONDS]
//
// Randomized proof that plait loses nothing: fault runs through a seeded fault proxy in front of the lab's token-auth
// registry, SIGKILLed runs (failpoints and random timers), and concurrent writers on one store and one registry. After
// every run a checker walks the destination straight on the registry. Loopback only; bounded in count and in time.
// Exit 1 on any violation.

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab } from '../lab/lab.js';
import { generateLayout } from '../lab/fixtures/generate.js';
import { startTortureProxy, rng } from './fault-proxy.js';
import type { TortureProxy } from './fault-proxy.js';
import { checkDestination } from './checker.js';
import type { RegistryAccess } from './checker.js';

const PLAIT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const PLATFORMS = ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/s390x'];
const TAGS = ['v1', 'latest'];
/** A fault run that neither ends nor fails in this long has hung: a violation. */
const RUN_LIMIT_MS = 180_000;

interface Options { seed: number; runs: number; crashRuns: number; concurrencyRuns: number; timeLimitS: number; keep: boolean }

function parseOptions(argv: string[]): Options {
  const o: Options = { seed: 1, runs: 4, crashRuns: 3, concurrencyRuns: 1, timeLimitS: 170, keep: false };
  let full = false;
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`torture: ${a} takes a non-negative integer`);
      explicit.add(a);
      return v;
    };
    if (a === '--seed') o.seed = num();
    else if (a === '--runs') o.runs = num();
    else if (a === '--crash-runs') o.crashRuns = num();
    else if (a === '--concurrency-runs') o.concurrencyRuns = num();
    else if (a === '--time-limit') o.timeLimitS = num();
    else if (a === '--full') full = true;
    else if (a === '--keep') o.keep = true;
    else throw new Error(`torture: unknown argument ${a}`);
  }
  if (full) {
    if (!explicit.has('--runs')) o.runs = 200;
    if (!explicit.has('--crash-runs')) o.crashRuns = 50;
    if (!explicit.has('--concurrency-runs')) o.concurrencyRuns = 10;
    if (!explicit.has('--time-limit')) o.timeLimitS = 3 * 3600;
  }
  return o;
}

interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }

function plait(args: string[], env: NodeJS.ProcessEnv, opts: { killAfterMs?: number; limitMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PLAIT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    if (opts.killAfterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs));
    timers.push(setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.limitMs ?? RUN_LIMIT_MS));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}

/**
 * What a failed run must look like: exit 1, and one line that says what failed (for apply, the spec's error in the
 * summary table and one `error` event; for the manifest commands, one `plait: …` line) — no stack, no crash.
 */
function clearFailure(r: Ran): string | undefined {
  if (r.code !== 1) return `exit ${r.code ?? r.signal}`;
  const all = `${r.stdout}\n${r.stderr}`;
  if (/\n\s+at .+:\d+:\d+\)?\n/.test(all) || /Unhandled|TypeError|ReferenceError|RangeError|\[object Object\]|undefined:/.test(all)) {
    return `not a clear failure:\n${all.trim().split('\n').slice(0, 8).join('\n')}`;
  }
  const lines = r.stderr.trim().split('\n').filter((l) => /: failed: |^plait: /.test(l));
  if (lines.length !== 1) return `exit 1 without exactly one line saying why:\n${all.trim().slice(0, 400)}`;
  return undefined;
}

function oneLine(r: Ran): string {
  const all = r.stderr.trim().split('\n');
  const lines = all.filter((l) => /: failed: /.test(l)).concat(all.filter((l) => /^plait: /.test(l)));
  return (lines.at(-1) ?? r.stderr.trim().split('\n').at(-1) ?? '').slice(0, 240);
}

function specYaml(name: string, image: string, source: string, opts: { platforms?: string[]; run?: string; keyFile: string; passFile: string; tags?: string[] }): string {
  return [
    'apiVersion: plait.dev/v1alpha1',
    'kind: ManifestList',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  destination:',
    `    image: ${image}`,
    `    tags: [${(opts.tags ?? TAGS).map((t) => JSON.stringify(t)).join(', ')}]`,
    '  sources:',
    `    - image: ${source}`,
    `      platforms: [${(opts.platforms ?? PLATFORMS).join(', ')}]`,
    ...(opts.run ? ['      annotations:', `        dev.plait.torture/run: "${opts.run}"`] : []),
    '  compression:',
    '    variants: [zstd]',
    '  signatures:',
    '    sigstore:',
    `      - privateKey: {file: ${opts.keyFile}}`,
    `        passphrase: {file: ${opts.passFile}}`,
    '',
  ].join('\n');
}

/** Everything crashed writers may leave in a store, and every record that must parse. */
async function auditStore(root: string): Promise<string[]> {
  const problems: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      const s = await stat(p).catch(() => undefined);
      if (!s) continue;
      if (/\.tmp-|^\.new-|^\.del-/.test(e)) problems.push(`store debris left behind: ${p.slice(root.length + 1)}`);
      if (s.isDirectory()) await walk(p);
      else if (e.endsWith('.json') || e === 'manifest') {
        try {
          JSON.parse(await readFile(p, 'utf8'));
        } catch {
          problems.push(`store file does not parse: ${p.slice(root.length + 1)}`);
        }
      }
    }
  };
  await walk(root);
  return problems;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const deadline = Date.now() + o.timeLimitS * 1000;
  const started = Date.now();
  const lab = await startLab({ only: ['token'], keep: o.keep });
  const work = await mkdtemp(join(tmpdir(), 'plait-torture-'));
  let proxy: TortureProxy | undefined;
  const violations: string[] = [];
  const stats = { runs: 0, converged: 0, failedClear: 0, crashRuns: 0, crashKilled: 0, concurrencyRuns: 0, checks: 0, blobs: 0, signatures: 0 };
  const failures = new Map<string, number>();
  const t = lab.info.token;
  const access: RegistryAccess = { url: t.url, realm: t.realm, service: t.service, user: t.pusher.name, password: t.pusher.password };
  const creds = ['--plain-http', '--creds', `${t.pusher.name}:${t.pusher.password}`];
  try {
    // Keys and the 4-platform source, pushed straight to the registry (not through the proxy).
    const keyDir = join(work, 'keys');
    await mkdir(keyDir);
    const passFile = join(keyDir, 'pass');
    await writeFile(passFile, 'torture pass phrase\n', { mode: 0o600 });
    const gen = await plait(['key', 'generate', '--prefix', join(keyDir, 'cosign'), '--passphrase-file', passFile], {});
    if (gen.code !== 0) throw new Error(`key generate: ${gen.stderr}`);
    const keyFile = join(keyDir, 'cosign.key');
    const pubFile = join(keyDir, 'cosign.pub');
    const layout = await generateLayout({
      dir: join(work, 'source'), tag: 'multi', seed: 'plait-torture', index: true,
      images: ['amd64', 'arm64/v8', 'arm/v7', 's390x'].map((a) => {
        const [architecture, variant] = a.split('/');
        return { platform: { os: 'linux', architecture: architecture!, ...(variant && { variant }) }, layers: 2, layerSize: 8192, data: 'random' as const };
      }),
    });
    const seedSpec = join(work, 'source.yaml');
    await writeFile(seedSpec, [
      'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', 'metadata: {name: torture-source}', 'spec:',
      `  destination: {image: ${t.host}/src/app, tags: [multi]}`, `  sources: [{image: "oci:${layout.dir}:multi"}]`, '',
    ].join('\n'));
    const seeded = await plait(['apply', '--store', join(work, 'seed-store'), ...creds, seedSpec], {});
    if (seeded.code !== 0) throw new Error(`pushing the source failed: ${seeded.stderr}`);

    const challenge = `Bearer realm="${t.realm}",service="${t.service}"`;
    proxy = await startTortureProxy(t.host, { seed: o.seed, rate: 0.05, challenge });
    const P = proxy.host;
    const source = `${P}/src/app:multi`;
    const env = { PLAIT_REGISTRY_TIMEOUT: '2' };
    const check = async (repository: string, label: string, complete: boolean, tags = TAGS) => {
      const r = await checkDestination(access, { repository, tags, publicKeyFile: pubFile, ...(complete && { complete: { children: 8 } }) });
      stats.checks++;
      stats.blobs += r.blobsVerified;
      stats.signatures += r.signaturesVerified;
      for (const v of r.violations) violations.push(`${label}: ${v}`);
      return r;
    };

    // 1. Fault runs.
    const store = join(work, 'store');
    for (let i = 0; i < o.runs && Date.now() < deadline; i++) {
      const seed = o.seed + i;
      const r = rng(seed);
      proxy.seed = seed;
      proxy.rate = 0.005 + r() * 0.03;
      const repo = `torture/app-${i % 5}`;
      const specFile = join(work, `fault-${i}.yaml`);
      await writeFile(specFile, specYaml(`torture-${i % 5}`, `${P}/${repo}`, source, { run: String(seed), keyFile, passFile }));
      const label = `seed ${seed}`;
      const t0 = Date.now();
      proxy.enabled = true;
      const faulty = await plait(['apply', '--store', store, ...creds, specFile], { ...env, PLAIT_STORE: store });
      proxy.enabled = false;
      stats.runs++;
      if (faulty.timedOut) violations.push(`${label}: apply hung past ${RUN_LIMIT_MS / 1000}s`);
      else if (faulty.code === 0) stats.converged++;
      else {
        const why = clearFailure(faulty);
        if (why) violations.push(`${label}: ${why}`);
        else {
          stats.failedClear++;
          const line = oneLine(faulty).replace(/sha256:[0-9a-f]{64}/g, 'sha256:…').replace(/127\.0\.0\.1:\d+/g, 'HOST').replace(/\d+/g, 'N');
          failures.set(line, (failures.get(line) ?? 0) + 1);
        }
      }
      const t1 = Date.now();
      await check(repo, `${label} after the faulty apply`, false);
      const t2 = Date.now();
      const clean = await plait(['apply', '--store', store, ...creds, specFile], { ...env, PLAIT_STORE: store });
      if (clean.code !== 0) violations.push(`${label}: the clean re-run did not converge: ${oneLine(clean)}`);
      const t3 = Date.now();
      await check(repo, `${label} after the clean apply`, true);
      const t4 = Date.now();
      const plan = await plait(['plan', '--exit-code', '--store', store, ...creds, specFile], env);
      if (plan.code !== 0) violations.push(`${label}: plan after the clean apply exits ${plan.code}: ${oneLine(plan)}`);
      process.stderr.write(`torture: fault run ${i + 1}/${o.runs} seed ${seed}: ${faulty.code === 0 ? 'converged' : `failed: ${oneLine(faulty)}`} (apply ${t1 - t0}, check ${t2 - t1}, clean ${t3 - t2}, check ${t4 - t3}, plan ${Date.now() - t4} ms)\n`);
    }
    const injected = { ...proxy.injected };

    // 2. Crash runs: SIGKILL at a failpoint or at a random moment, then a clean re-run.
    for (let i = 0; i < o.crashRuns && Date.now() < deadline; i++) {
      const seed = o.seed + 100_000 + i;
      const r = rng(seed);
      const kind = (['apply', 'manifest push', 'manifest add'] as const)[i % 3]!;
      const cstore = join(work, `crash-store-${i % 4}`);
      const cenv = { ...env, PLAIT_STORE: cstore };
      const repo = `torture/crash-${i}`;
      const label = `crash seed ${seed} (${kind})`;
      // Half the kills at the Nth atomic rename, half on a timer somewhere in the run.
      const byFailpoint = r() < 0.5;
      const kill = byFailpoint ? { PLAIT_FAILPOINT: `before-rename:${1 + Math.floor(r() * 12)}` } : {};
      const killAfterMs = byFailpoint ? undefined : 150 + Math.floor(r() * 2500);
      const list = `crash-list-${i}`;
      const pushArgs = ['manifest', 'push', '--all', ...creds, '--add-compression', 'zstd', '--sign-by-sigstore-private-key', keyFile,
        '--sign-passphrase-file', passFile, list, `docker://${P}/${repo}:v1`];
      let first: Ran;
      let again: () => Promise<Ran>;
      let tags = ['v1'];
      if (kind === 'apply') {
        const specFile = join(work, `crash-${i}.yaml`);
        await writeFile(specFile, specYaml(`crash-${i}`, `${P}/${repo}`, source, { run: String(seed), keyFile, passFile }));
        tags = TAGS;
        first = await plait(['apply', ...creds, specFile], { ...cenv, ...kill }, { ...(killAfterMs !== undefined && { killAfterMs }) });
        again = () => plait(['apply', ...creds, specFile], cenv);
      } else if (kind === 'manifest push') {
        const mk = await plait(['manifest', 'create', list], cenv);
        const add = await plait(['manifest', 'add', '--all', ...creds, list, `docker://${source}`], cenv);
        if (mk.code !== 0 || add.code !== 0) violations.push(`${label}: preparing the list failed: ${oneLine(mk)} ${oneLine(add)}`);
        first = await plait(pushArgs, { ...cenv, ...kill }, { ...(killAfterMs !== undefined && { killAfterMs }) });
        again = () => plait(pushArgs, cenv);
      } else {
        const mk = await plait(['manifest', 'create', list], cenv);
        if (mk.code !== 0) violations.push(`${label}: manifest create failed: ${oneLine(mk)}`);
        const addArgs = ['manifest', 'add', '--all', ...creds, list, `docker://${source}`];
        first = await plait(addArgs, { ...cenv, ...kill }, { ...(killAfterMs !== undefined && { killAfterMs: Math.floor(killAfterMs / 3) }) });
        again = async () => {
          const a = await plait(addArgs, cenv);
          if (a.code !== 0) return a;
          return plait(pushArgs, cenv);
        };
      }
      stats.crashRuns++;
      if (first.signal === 'SIGKILL') stats.crashKilled++;
      else if (first.code !== 0) violations.push(`${label}: the run before the kill failed: ${oneLine(first)}`);
      const re = await again();
      if (re.timedOut) violations.push(`${label}: the re-run hung (a stale lock?)`);
      else if (re.code !== 0) violations.push(`${label}: the re-run did not converge: ${oneLine(re)}`);
      for (const p of await auditStore(cstore)) violations.push(`${label}: ${p}`);
      const inspect = await plait(['manifest', 'inspect', kind === 'apply' ? `crash-${i}` : list], cenv);
      if (inspect.code !== 0) violations.push(`${label}: the stored list does not load: ${oneLine(inspect)}`);
      else {
        const doc = JSON.parse(inspect.stdout) as { manifests?: unknown[] };
        if ((doc.manifests?.length ?? 0) < 4) violations.push(`${label}: the stored list has ${doc.manifests?.length} instances`);
      }
      await check(repo, label, true, tags);
      process.stderr.write(`torture: crash run ${i + 1}/${o.crashRuns} seed ${seed} ${kind}: ${first.signal === 'SIGKILL' ? 'killed' : `ended ${first.code}`}, re-run ${re.code === 0 ? 'converged' : 'FAILED'}\n`);
    }

    // 3. Concurrent writers: N processes, overlapping specs (one repository, one shared tag, one store).
    for (let i = 0; i < o.concurrencyRuns && Date.now() < deadline; i++) {
      const n = 4;
      const cstore = join(work, `conc-store-${i}`);
      const repo = `torture/conc-${i}`;
      const specs = Array.from({ length: n }, (_, j) => {
        const platforms = PLATFORMS.filter((_, k) => k !== j % PLATFORMS.length);
        return { name: `conc-${i}-${j}`, platforms, file: join(work, `conc-${i}-${j}.yaml`), tag: `t${j}` };
      });
      for (const s of specs) {
        await writeFile(s.file, specYaml(s.name, `${P}/${repo}`, source, { platforms: s.platforms, keyFile, passFile, tags: [s.tag, 'shared'] }));
      }
      // The same spec applied by two more processes at once: writers on one record.
      const runs = await Promise.all([
        ...specs.map((s) => plait(['apply', ...creds, s.file], { ...env, PLAIT_STORE: cstore })),
        plait(['apply', ...creds, specs[0]!.file], { ...env, PLAIT_STORE: cstore }),
        plait(['apply', ...creds, specs[1]!.file], { ...env, PLAIT_STORE: cstore }),
      ]);
      stats.concurrencyRuns++;
      const label = `concurrency round ${i}`;
      runs.forEach((r, k) => {
        if (r.code !== 0) violations.push(`${label}: writer ${k} failed: ${oneLine(r)}`);
      });
      const tagDigests: Record<string, string> = {};
      for (const s of specs) {
        const c = await check(repo, `${label} ${s.name}`, false, [s.tag]);
        const d = c.tags[s.tag];
        if (!d) {
          violations.push(`${label}: lost update: tag ${s.tag} of ${s.name} does not resolve`);
          continue;
        }
        tagDigests[s.tag] = d;
        // The list under the spec's own tag has exactly the spec's platforms (gzip and zstd each).
        const plan = await plait(['plan', '--exit-code', '-o', 'json', ...creds, s.file], { ...env, PLAIT_STORE: cstore });
        const doc = JSON.parse(plan.stdout || '[]') as Array<{ plan?: { tags?: Array<{ tag: string; inSync?: boolean }> } }>;
        void doc;
        const inspect = await plait(['inspect', '--raw', ...creds, `docker://${t.host}/${repo}:${s.tag}`], env);
        const list = JSON.parse(inspect.stdout || '{}') as { manifests?: Array<{ platform?: { architecture: string; variant?: string } }> };
        const got = (list.manifests ?? []).map((m) => [m.platform?.architecture, m.platform?.variant].filter(Boolean).join('/'));
        const want = [...s.platforms, ...s.platforms].map((p) => p.split('/').slice(1).join('/'));
        if (JSON.stringify(got) !== JSON.stringify(want)) violations.push(`${label}: tag ${s.tag} names a list of ${got.join(',')}, the spec made ${want.join(',')}`);
        const hist = await plait(['history', '-o', 'json', s.name], { PLAIT_STORE: cstore });
        const entries = JSON.parse(hist.stdout || '[]') as Array<{ digest: string }>;
        if (!entries.some((e) => e.digest === d)) violations.push(`${label}: lost update: ${s.name}'s history does not hold ${d}`);
      }
      const shared = await check(repo, `${label} shared`, false, ['shared']);
      const sd = shared.tags.shared;
      if (!sd || !Object.values(tagDigests).includes(sd)) violations.push(`${label}: tag shared names ${sd}, which no spec produced`);
      for (const p of await auditStore(cstore)) violations.push(`${label}: ${p}`);
      process.stderr.write(`torture: concurrency round ${i + 1}/${o.concurrencyRuns}: ${runs.filter((r) => r.code === 0).length}/${runs.length} writers ok\n`);
    }

    const secs = Math.round((Date.now() - started) / 1000);
    const lines = [
      `torture: seeds ${o.seed}..${o.seed + Math.max(0, stats.runs - 1)} (crash seeds ${o.seed + 100_000}..${o.seed + 100_000 + Math.max(0, stats.crashRuns - 1)}), ${secs}s`,
      `  fault runs: ${stats.runs}, converged: ${stats.converged}, failed with one clear line: ${stats.failedClear}, next clean apply converged: ${stats.runs - violations.filter((v) => v.includes('clean re-run')).length}/${stats.runs}`,
      `  faults injected: ${Object.entries(injected).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} (of ${proxy.requests} requests)`,
      `  crash runs: ${stats.crashRuns} (${stats.crashKilled} killed mid-run), concurrency rounds: ${stats.concurrencyRuns}`,
      `  checks: ${stats.checks}, blobs verified: ${stats.blobs}, signatures verified: ${stats.signatures}`,
      ...[...failures].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([l, n]) => `  failure ×${n}: ${l}`),
      `  violations: ${violations.length}`,
      ...violations.slice(0, 50).map((v) => `  VIOLATION ${v}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return violations.length === 0 ? 0 : 1;
  } finally {
    await proxy?.close();
    await lab.stop();
    if (!o.keep) await rm(work, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`torture: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
