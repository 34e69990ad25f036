import { join } from 'node:path';
import { alternate, cell, reportedNote, ratioCell, requestsCell, trafficNotes, verdict, wallS } from '../lib/bench.js';
import type { BenchCase, Row, Sample } from '../lib/bench.js';
import { reqs } from '../lib/bench.js';
import { writeSpecs } from '../lib/spec.js';
import { buildah, PEER_TLS, plait, skopeo } from '../lib/tools.js';

// No-op reconcile: the 4-platform list is already at each tool's destination (put there once before the warm-up);
// every counted run finds nothing to do. plait keeps one store across runs, as a CI job with a cached store would.

export const noop: BenchCase = {
  name: 'noop',
  title: 'no-op reconcile of the 4-platform list',
  async run(ctx) {
    const { a, tools } = ctx;
    const list = await ctx.fixtures.multi();
    const store = join(ctx.work, 'noop', 'store');
    const spec = await writeSpecs(join(ctx.work, 'noop', 'spec.yaml'), [
      { name: 'noop', destination: `${a.host}/bench/noop-plait`, tags: ['v1'], sources: [list.ref] },
    ]);
    const buildahList = 'bench-noop';
    const skopeoDest = `docker://${a.host}/bench/noop-skopeo:v1`;
    const buildahDest = `docker://${a.host}/bench/noop-buildah:v1`;

    // Put the list at every destination first (not measured).
    await plait(tools, ['apply', '--plain-http', '--store', store, spec]);
    await skopeo(tools, ['copy', '--quiet', '--all', ...PEER_TLS, `docker://${list.ref}`, skopeoDest]);
    await buildah(tools, ['manifest', 'rm', buildahList], { allowFail: true });
    await buildah(tools, ['manifest', 'create', buildahList]);
    await buildah(tools, ['manifest', 'add', '--all', '--tls-verify=false', buildahList, `docker://${list.ref}`]);
    await buildah(tools, ['manifest', 'push', '--quiet', '--all', '--tls-verify=false', '--signature-policy', tools.policy, buildahList, buildahDest]);

    const res = await alternate(ctx, 'noop', [
      { name: 'plait', regs: [a], run: () => plait(tools, ['apply', '--plain-http', '--store', store, spec]) },
      { name: 'skopeo', regs: [a], run: () => skopeo(tools, ['copy', '--quiet', '--all', ...PEER_TLS, `docker://${list.ref}`, skopeoDest]) },
      {
        name: 'buildah', regs: [a],
        run: () => buildah(tools, ['manifest', 'push', '--quiet', '--all', '--tls-verify=false', '--signature-policy', tools.policy, buildahList, buildahDest]),
      },
    ], ctx.runs);
    const p = res.get('plait')!;
    const puts = Math.max(...p.map((s) => s.traffic.manifestPuts));
    const row = (peerName: string, q: Sample[]): Row => {
      const ok = reqs(p).median <= 0.15 * reqs(q).median && puts === 0;
      return {
        case: `no-op reconcile, 4-platform ${(list.bytes / 2 ** 20).toFixed(0)} MiB list, vs ${peerName} (wall)`,
        plait: cell(wallS(p), 's'),
        peer: cell(wallS(q), 's'),
        ratio: ratioCell(wallS(p), wallS(q)),
        requests: requestsCell(p, q),
        goal: `requests ≤ 0.15× ${peerName}, 0 manifest PUTs (plait: ${puts})`,
        verdict: verdict(ok),
        notes: [...trafficNotes([['plait', p], [peerName, q]]), ...reportedNote(p)],
      };
    };
    return [row('skopeo copy --all', res.get('skopeo')!), row('buildah manifest push --all', res.get('buildah')!)];
  },
};
