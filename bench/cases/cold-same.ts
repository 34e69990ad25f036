import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { alternate, cell, ratioCell, reportedNote, reqs, requestsCell, trafficNotes, verdict, wallS } from '../lib/bench.js';
import type { BenchCase, Row, Sample } from '../lib/bench.js';
import { writeSpecs } from '../lib/spec.js';
import { buildah, plait } from '../lib/tools.js';

// Cold assembly on the registry that holds the sources: every run pushes the 4-platform list to a repository that
// does not exist yet, so blobs can be mounted from bench/multi instead of moved. Two rows:
//  - assembly: `plait apply` with an empty store vs buildah manifest create + add --all + push --all (summed);
//  - push only: a list already in each tool's store, `plait manifest push` vs `buildah manifest push --all`.
// buildah keeps its blob-info cache between runs (that is what lets it mount at all); it is not emptied here.

export const coldSame: BenchCase = {
  name: 'cold-same',
  title: 'cold assembly on the same registry',
  async run(ctx) {
    const { a, tools } = ctx;
    const list = await ctx.fixtures.multi();
    const dir = join(ctx.work, 'cold-same');
    const src = `docker://${list.ref}`;
    const push = ['--quiet', '--all', '--tls-verify=false', '--signature-policy', tools.policy];
    let n = 0;
    const fresh = () => `${Date.now().toString(36)}-${n++}`;

    // Assembly from nothing.
    let id = '';
    const asm = await alternate(ctx, 'cold-same/assembly', [
      {
        name: 'plait', regs: [a],
        prepare: async () => {
          id = fresh();
          await rm(join(dir, 'store'), { recursive: true, force: true });
          await writeSpecs(join(dir, 'spec.yaml'), [{ name: 'cold', destination: `${a.host}/bench/cs-plait-${id}`, tags: ['v1'], sources: [list.ref] }]);
        },
        run: () => plait(tools, ['apply', '--plain-http', '--store', join(dir, 'store'), join(dir, 'spec.yaml')]),
      },
      {
        name: 'buildah', regs: [a],
        prepare: async () => {
          id = fresh();
          await Promise.resolve();
        },
        run: async () => [
          await buildah(tools, ['manifest', 'create', `bench-cs-${id}`]),
          await buildah(tools, ['manifest', 'add', '--all', '--tls-verify=false', `bench-cs-${id}`, src]),
          await buildah(tools, ['manifest', 'push', ...push, `bench-cs-${id}`, `docker://${a.host}/bench/cs-buildah-${id}:v1`]),
        ],
        after: async () => {
          await buildah(tools, ['manifest', 'rm', `bench-cs-${id}`], { allowFail: true });
        },
      },
    ], ctx.runs);

    // Push only: the list is in each store already.
    const store = join(dir, 'push-store');
    await plait(tools, ['manifest', 'create', '--store', store, 'bench-push']);
    await plait(tools, ['manifest', 'add', '--store', store, '--plain-http', '--all', 'bench-push', src]);
    await buildah(tools, ['manifest', 'rm', 'bench-push'], { allowFail: true });
    await buildah(tools, ['manifest', 'create', 'bench-push']);
    await buildah(tools, ['manifest', 'add', '--all', '--tls-verify=false', 'bench-push', src]);
    const po = await alternate(ctx, 'cold-same/push', [
      {
        name: 'plait', regs: [a],
        prepare: async () => {
          id = fresh();
          await Promise.resolve();
        },
        run: () => plait(tools, ['manifest', 'push', '--store', store, '--plain-http', 'bench-push', `docker://${a.host}/bench/csp-plait-${id}:v1`]),
      },
      {
        name: 'buildah', regs: [a],
        prepare: async () => {
          id = fresh();
          await Promise.resolve();
        },
        run: () => buildah(tools, ['manifest', 'push', ...push, 'bench-push', `docker://${a.host}/bench/csp-buildah-${id}:v1`]),
      },
    ], ctx.runs);

    const row = (label: string, peer: string, p: Sample[], q: Sample[]): Row => ({
      case: label,
      plait: cell(wallS(p), 's'),
      peer: cell(wallS(q), 's'),
      ratio: ratioCell(wallS(p), wallS(q)),
      requests: requestsCell(p, q),
      goal: `wall ≤ 1.0×, requests ≤ 0.6× ${peer}`,
      verdict: verdict(wallS(p).median <= wallS(q).median && reqs(p).median <= 0.6 * reqs(q).median),
      notes: [...trafficNotes([['plait', p], [peer, q]]), ...reportedNote(p)],
    });
    return [
      row(`cold assembly, same registry: plait apply (empty store) vs buildah manifest create+add --all+push --all`, 'buildah', asm.get('plait')!, asm.get('buildah')!),
      row(`cold push, same registry: plait manifest push vs buildah manifest push --all`, 'buildah', po.get('plait')!, po.get('buildah')!),
    ];
  },
};
