import { join } from 'node:path';
import { alternate, cell, reportedNote, ratioCell, requestsCell, trafficNotes, verdict, wallS } from '../lib/bench.js';
import type { BenchCase, CaseContext, Contender, Row, Sample } from '../lib/bench.js';
import { reqs, rssMiB } from '../lib/bench.js';
import { crane, regctl, regsync, regsyncConfig } from '../lib/peers.js';
import type { BenchRegistry } from '../lib/registry.js';
import { writeSpecs } from '../lib/spec.js';
import { buildah, PEER_TLS, plait, skopeo } from '../lib/tools.js';

// No-op reconcile: the 4-platform list is already at each tool's destination (put there once before the warm-up);
// every counted run finds nothing to do. plait keeps one store across runs, as a CI job with a cached store would.
// The peers are what a user would run to keep a list in sync: skopeo copy --all, buildah manifest push --all,
// crane copy, regctl image copy, and regsync once (one sync entry). On distribution v3 (case noop-v3) the same runs
// with the source and every destination on the v3 registry.

export const NOOP_RSS_MIB = 65;

async function runNoop(ctx: CaseContext, reg: BenchRegistry, tag: string): Promise<Row[]> {
  const { tools, go } = ctx;
  const list = await ctx.fixtures.multi(reg);
  const dir = join(ctx.work, tag);
  const store = join(dir, 'store');
  const spec = await writeSpecs(join(dir, 'spec.yaml'), [
    { name: 'noop', destination: `${reg.host}/bench/noop-plait`, tags: ['v1'], sources: [list.ref] },
  ]);
  const buildahList = `bench-${tag}`;
  const dest = (tool: string) => `${reg.host}/bench/noop-${tool}:v1`;
  const syncCfg = await regsyncConfig(join(dir, 'regsync.yaml'), [reg.host], [{ source: list.ref, target: dest('regsync') }]);
  const pushArgs = ['manifest', 'push', '--quiet', '--all', '--tls-verify=false', '--signature-policy', tools.policy, buildahList, `docker://${dest('buildah')}`];
  const contenders: Contender[] = [
    { name: 'plait', regs: [reg], run: () => plait(tools, ['apply', '--plain-http', '--store', store, spec]) },
    { name: 'skopeo copy --all', regs: [reg], run: () => skopeo(tools, ['copy', '--quiet', '--all', ...PEER_TLS, `docker://${list.ref}`, `docker://${dest('skopeo')}`]) },
    { name: 'buildah manifest push --all', regs: [reg], run: () => buildah(tools, pushArgs) },
    { name: 'crane copy', regs: [reg], run: () => crane(go, ['copy', list.ref, dest('crane')]) },
    { name: 'regctl image copy', regs: [reg], run: () => regctl(go, ['image', 'copy', list.ref, dest('regctl')]) },
    { name: 'regsync once', regs: [reg], run: () => regsync(go, ['once', '-c', syncCfg, '-v', 'error']) },
  ];

  // Put the list at every destination first (not measured); the warm-up round then repeats each tool once.
  await buildah(tools, ['manifest', 'rm', buildahList], { allowFail: true });
  await buildah(tools, ['manifest', 'create', buildahList]);
  await buildah(tools, ['manifest', 'add', '--all', '--tls-verify=false', buildahList, `docker://${list.ref}`]);
  for (const c of contenders) await c.run(0);

  const res = await alternate(ctx, tag, contenders, ctx.runs);
  const p = res.get('plait')!;
  const puts = Math.max(...p.map((s) => s.traffic.manifestPuts));
  const where = reg.label === 'V' ? 'distribution v3' : 'distribution 2.8';
  // The request goal (≤ 0.15×) is skopeo's and buildah's yardstick; crane, regctl and regsync already send only a HEAD
  // or two for a list in sync, so against them plait must simply not send more.
  const row = (peerName: string, q: Sample[]): Row => {
    const reqMax = /skopeo|buildah/.test(peerName) ? 0.15 : 1.0;
    const ok = wallS(p).median <= wallS(q).median && reqs(p).median <= reqMax * reqs(q).median && puts === 0;
    return {
      case: `no-op reconcile (${where}), 4-platform ${(list.bytes / 2 ** 20).toFixed(0)} MiB list, vs ${peerName}`,
      plait: cell(wallS(p), 's'),
      peer: cell(wallS(q), 's'),
      ratio: ratioCell(wallS(p), wallS(q)),
      requests: requestsCell(p, q),
      goal: `wall ≤ 1.0×, requests ≤ ${reqMax.toFixed(2)}×, 0 manifest PUTs (plait: ${puts})`,
      verdict: verdict(ok),
      issueGoal: 'noop',
      notes: [...trafficNotes([['plait', p], [peerName, q]]), ...reportedNote(p)],
    };
  };
  const rows = contenders.slice(1).map((c) => row(c.name, res.get(c.name)!));
  const sk = res.get('skopeo copy --all')!;
  rows.push({
    case: `no-op reconcile (${where}): plait peak RSS vs skopeo copy --all`,
    plait: cell(rssMiB(p), 'MiB'), peer: cell(rssMiB(sk), 'MiB'), ratio: ratioCell(rssMiB(p), rssMiB(sk)), requests: '—',
    goal: `≤ ${NOOP_RSS_MIB} MiB`, verdict: verdict(rssMiB(p).median <= NOOP_RSS_MIB), issueGoal: 'rss', notes: [],
  });
  return rows;
}

export const noop: BenchCase = {
  name: 'noop',
  title: 'no-op reconcile of the 4-platform list (distribution 2.8)',
  run: (ctx) => runNoop(ctx, ctx.a, 'noop'),
};

export const noopV3: BenchCase = {
  name: 'noop-v3',
  title: 'no-op reconcile of the 4-platform list (distribution v3)',
  run: (ctx) => runNoop(ctx, ctx.v, 'noop-v3'),
};
