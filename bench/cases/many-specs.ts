import { join } from 'node:path';
import { alternate, cell, ratioCell, requestsCell, trafficNotes, verdict, wallS } from '../lib/bench.js';
import type { BenchCase, Contender, Row } from '../lib/bench.js';
import { measure } from '../lib/proc.js';
import { writeSpecs } from '../lib/spec.js';
import type { SpecInput } from '../lib/spec.js';
import { fmtValue } from '../lib/stats.js';
import { regsync, regsyncConfig } from '../lib/peers.js';
import { plait, PEER_TLS } from '../lib/tools.js';

// Many specs, no-op, one process: N ManifestList documents in one file, each with the same 4 single-platform sources
// on registry A and its own destination repository. One cold `plait apply` of the largest file creates them all (not
// timed); then `plait apply` of the 100-, 300- and 1000-document files (all in sync) is timed. The peer is a shell
// loop of `skopeo copy --all` over the first 100 lists (plait's own destination → a skopeo-owned copy, created by the
// warm-up round), i.e. what keeping those lists in sync with skopeo costs; and regsync once with one sync entry per
// list for the same 100 (one process, its default parallelism of 4 — regsync's own way of keeping many in sync).
// Linear: the marginal cost per spec from the middle to the largest count is at most LINEAR_SLACK × the marginal cost
// from the smallest to the middle.

export const LINEAR_SLACK = 1.5;
export const TIME_LIMIT_S = 3;

export const manySpecs: BenchCase = {
  name: 'many-specs',
  title: 'many specs, no-op, one process',
  async run(ctx) {
    const { a, tools } = ctx;
    const singles = await ctx.fixtures.singles();
    const counts = ctx.fixtures.sizes.specCounts;
    const largest = counts[counts.length - 1]!;
    const loopN = counts[0]!;
    const dir = join(ctx.work, 'many-specs');
    const store = join(dir, 'store');
    const docs: SpecInput[] = [];
    for (let i = 1; i <= largest; i++) {
      docs.push({ name: `many-${i}`, destination: `${a.host}/bench/many/out-${i}`, tags: ['v1'], sources: singles.refs });
    }
    const files = new Map<number, string>();
    for (const c of counts) files.set(c, await writeSpecs(join(dir, `specs-${c}.yaml`), docs.slice(0, c)));

    const cold = await plait(tools, ['apply', '--plain-http', '--store', store, files.get(largest)!]);
    ctx.log(`[many-specs] cold apply of ${largest} specs (not counted): ${(cold.wallMs / 1000).toFixed(1)} s`);

    // One skopeo process per list: $1 is the count, the rest are skopeo's arguments before the two references.
    const loopScript = `n=$1; shift; i=1; while [ "$i" -le "$n" ]; do skopeo "$@" "docker://${a.host}/bench/many/out-$i:v1" "docker://${a.host}/bench/many/skopeo-$i:v1" >/dev/null || exit 1; i=$((i+1)); done`;
    const syncCfg = await regsyncConfig(join(dir, 'regsync.yaml'), [a.host],
      Array.from({ length: loopN }, (_, k) => ({ source: `${a.host}/bench/many/out-${k + 1}:v1`, target: `${a.host}/bench/many/regsync-${k + 1}:v1` })));
    const contenders: Contender[] = [];
    for (const c of counts) {
      contenders.push({ name: `plait-${c}`, regs: [a], run: () => plait(tools, ['apply', '--plain-http', '--store', store, files.get(c)!]) });
      if (c === loopN) {
        contenders.push({
          name: `skopeo-loop-${c}`, regs: [a],
          run: () => measure('sh', ['-c', loopScript, 'skopeo-loop', String(loopN), ...tools.skopeoGlobal, 'copy', '--quiet', '--all', ...PEER_TLS], { env: tools.peerEnv }),
        });
        contenders.push({ name: `regsync-${c}`, regs: [a], run: () => regsync(ctx.go, ['once', '-c', syncCfg, '-v', 'error']) });
      }
    }
    const res = await alternate(ctx, 'many-specs', contenders, ctx.runs);
    const p = (c: number) => res.get(`plait-${c}`)!;
    const loop = res.get(`skopeo-loop-${loopN}`)!;
    const t = counts.map((c) => wallS(p(c)).median);
    const slope1 = (t[1]! - t[0]!) / (counts[1]! - counts[0]!);
    const slope2 = (t[2]! - t[1]!) / (counts[2]! - counts[1]!);
    const linear = slope2 <= LINEAR_SLACK * slope1;
    const perSpec = `marginal cost per spec ${fmtValue(slope1 * 1000, 'ms')} (${counts[0]}→${counts[1]}), ${fmtValue(slope2 * 1000, 'ms')} (${counts[1]}→${counts[2]})`;
    const rows: Row[] = [];
    rows.push({
      case: `${loopN} specs no-op, one process, vs a skopeo copy --all loop over the same ${loopN} lists`,
      plait: cell(wallS(p(loopN)), 's'),
      peer: cell(wallS(loop), 's'),
      ratio: ratioCell(wallS(p(loopN)), wallS(loop)),
      requests: requestsCell(p(loopN), loop),
      goal: '≥ 10× faster than the loop (ratio ≤ 0.1×)',
      verdict: verdict(wallS(p(loopN)).median * 10 <= wallS(loop).median),
      issueGoal: 'many100',
      notes: trafficNotes([['plait', p(loopN)], ['skopeo loop', loop]]),
    });
    const rs = res.get(`regsync-${loopN}`)!;
    rows.push({
      case: `${loopN} specs no-op, one process, vs regsync once over the same ${loopN} lists (one process too)`,
      plait: cell(wallS(p(loopN)), 's'),
      peer: cell(wallS(rs), 's'),
      ratio: ratioCell(wallS(p(loopN)), wallS(rs)),
      requests: requestsCell(p(loopN), rs),
      goal: '(no goal set: a one-process peer, not a loop)',
      verdict: 'info',
      notes: trafficNotes([['plait', p(loopN)], ['regsync', rs]]),
    });
    rows.push({
      case: `${counts[1]} specs no-op, one process`,
      plait: cell(wallS(p(counts[1]!)), 's'), peer: '—', ratio: '—', requests: requestsCell(p(counts[1]!), undefined),
      goal: 'cost linear in specs (see next row)', verdict: 'info',
      notes: trafficNotes([['plait', p(counts[1]!)]]),
    });
    const full = largest === 1000;
    const inTime = t[2]! <= TIME_LIMIT_S;
    rows.push({
      case: `${largest} specs no-op, one process`,
      plait: cell(wallS(p(largest)), 's'), peer: '—', ratio: '—', requests: requestsCell(p(largest), undefined),
      goal: `${full ? `≤ ${TIME_LIMIT_S} s; ` : `(1000 in ≤ ${TIME_LIMIT_S} s: full run only); `}linear: ${perSpec}; ≤ ${LINEAR_SLACK}× growth`,
      verdict: verdict(linear && (!full || inTime)),
      issueGoal: 'many1000',
      notes: [...trafficNotes([['plait', p(largest)]]), `cold apply of ${largest} specs (not counted): ${(cold.wallMs / 1000).toFixed(1)} s`],
    });
    return rows;
  },
};
