import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { alternate, cell, ratioCell, reportedNote, reqs, requestsCell, trafficNotes, verdict, wallS } from '../lib/bench.js';
import type { BenchCase, CaseContext, Contender, Row, Sample } from '../lib/bench.js';
import { crane, manifestTool, manifestToolSpec, oras, regctl } from '../lib/peers.js';
import type { BenchRegistry } from '../lib/registry.js';
import { writeSpecs } from '../lib/spec.js';
import { buildah, plait } from '../lib/tools.js';

// Cold assembly on the registry that holds the sources: every run pushes the 4-platform list to a repository that
// does not exist yet, so blobs can be mounted from bench/multi instead of moved. Rows:
//  - assembly: `plait apply` with an empty store vs buildah manifest create + add --all + push --all (summed), and the
//    one-shot assemblers: crane index append, regctl index create, manifest-tool push from-spec;
//  - push only: a list already in each tool's store, `plait manifest push` vs `buildah manifest push --all` (the Go
//    peers keep no local list, so they have no push-only row);
//  - oras manifest index create only indexes manifests already in the index's own repository, so it cannot assemble
//    into a new repository: its row runs in bench/multi itself (no blob moves) and is information, not a goal.
// buildah keeps its blob-info cache between runs (that is what lets it mount at all); it is not emptied here.

const platformArg = (p: { os: string; architecture: string; variant?: string }) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

async function runColdSame(ctx: CaseContext, reg: BenchRegistry, tag: string): Promise<Row[]> {
  const { tools, go } = ctx;
  const list = await ctx.fixtures.multi(reg);
  const dir = join(ctx.work, tag);
  const src = `docker://${list.ref}`;
  const srcRepo = list.ref.slice(0, list.ref.lastIndexOf(':'));
  const push = ['--quiet', '--all', '--tls-verify=false', '--signature-policy', tools.policy];
  let n = 0;
  let id = '';
  const fresh = () => {
    id = `${Date.now().toString(36)}-${n++}`;
    return Promise.resolve();
  };
  const to = (tool: string) => `${reg.host}/bench/cs-${tool}-${id}:v1`;

  const asm = await alternate(ctx, `${tag}/assembly`, [
    {
      name: 'plait', regs: [reg],
      prepare: async () => {
        await fresh();
        await rm(join(dir, 'store'), { recursive: true, force: true });
        await writeSpecs(join(dir, 'spec.yaml'), [{ name: 'cold', destination: `${reg.host}/bench/cs-plait-${id}`, tags: ['v1'], sources: [list.ref] }]);
      },
      run: () => plait(tools, ['apply', '--plain-http', '--store', join(dir, 'store'), join(dir, 'spec.yaml')]),
    },
    {
      name: 'buildah', regs: [reg], prepare: fresh,
      run: async () => [
        await buildah(tools, ['manifest', 'create', `bench-cs-${id}`]),
        await buildah(tools, ['manifest', 'add', '--all', '--tls-verify=false', `bench-cs-${id}`, src]),
        await buildah(tools, ['manifest', 'push', ...push, `bench-cs-${id}`, `docker://${to('buildah')}`]),
      ],
      after: async () => {
        await buildah(tools, ['manifest', 'rm', `bench-cs-${id}`], { allowFail: true });
      },
    },
    { name: 'crane index append', regs: [reg], prepare: fresh, run: () => crane(go, ['index', 'append', '-m', list.ref, '-t', to('crane')]) },
    {
      name: 'regctl index create', regs: [reg], prepare: fresh,
      run: () => regctl(go, ['index', 'create', to('regctl'), '--ref', list.ref, ...list.children.flatMap((c) => ['--platform', platformArg(c.platform)])]),
    },
    {
      name: 'manifest-tool push from-spec', regs: [reg],
      prepare: async () => {
        await fresh();
        await manifestToolSpec(join(dir, 'manifest-tool.yaml'), to('manifest-tool'),
          list.children.map((c) => ({ ref: `${srcRepo}@${c.digest}`, ...c.platform })));
      },
      run: () => manifestTool(go, ['push', 'from-spec', join(dir, 'manifest-tool.yaml')]),
    },
    {
      name: 'oras manifest index create', regs: [reg], prepare: fresh,
      run: () => oras(go, ['manifest', 'index', 'create', `${srcRepo}:oras-${id}`, ...list.children.map((c) => c.digest)]),
    },
  ], ctx.runs);

  // Push only: the list is in each store already.
  const store = join(dir, 'push-store');
  const local = `bench-push-${tag}`;
  await plait(tools, ['manifest', 'create', '--store', store, local]);
  await plait(tools, ['manifest', 'add', '--store', store, '--plain-http', '--all', local, src]);
  await buildah(tools, ['manifest', 'rm', local], { allowFail: true });
  await buildah(tools, ['manifest', 'create', local]);
  await buildah(tools, ['manifest', 'add', '--all', '--tls-verify=false', local, src]);
  const pushers: Contender[] = [
    { name: 'plait', regs: [reg], prepare: fresh, run: () => plait(tools, ['manifest', 'push', '--store', store, '--plain-http', local, `docker://${reg.host}/bench/csp-plait-${id}:v1`]) },
    { name: 'buildah', regs: [reg], prepare: fresh, run: () => buildah(tools, ['manifest', 'push', ...push, local, `docker://${reg.host}/bench/csp-buildah-${id}:v1`]) },
  ];
  const po = await alternate(ctx, `${tag}/push`, pushers, ctx.runs);

  const where = reg.label === 'V' ? 'distribution v3' : 'distribution 2.8';
  // Requests ≤ 0.5× is measured against buildah (what the goal was set from); the one-shot Go assemblers must not be
  // out-requested (≤ 1.0×).
  const row = (label: string, peer: string, p: Sample[], q: Sample[], wallMax: number, reqMax = peer === 'buildah' ? 0.5 : 1.0): Row => ({
    case: label,
    plait: cell(wallS(p), 's'),
    peer: cell(wallS(q), 's'),
    ratio: ratioCell(wallS(p), wallS(q)),
    requests: requestsCell(p, q),
    goal: `wall ≤ ${wallMax.toFixed(1)}×, requests ≤ ${reqMax.toFixed(1)}× ${peer}`,
    verdict: verdict(wallS(p).median <= wallMax * wallS(q).median && reqs(p).median <= reqMax * reqs(q).median),
    issueGoal: 'cold-same',
    notes: [...trafficNotes([['plait', p], [peer, q]]), ...reportedNote(p)],
  });
  const p = asm.get('plait')!;
  const o = asm.get('oras manifest index create')!;
  return [
    row(`cold assembly (${where}): plait apply (empty store) vs buildah manifest create+add --all+push --all`, 'buildah', p, asm.get('buildah')!, 0.8),
    ...['crane index append', 'regctl index create', 'manifest-tool push from-spec'].map((peer) =>
      row(`cold assembly (${where}): plait apply (empty store) vs ${peer}`, peer, p, asm.get(peer)!, 1.0)),
    {
      case: `cold assembly (${where}): oras manifest index create — cannot assemble into a new repository (its manifests must already be in the index's repository); timed in the source repository, no blobs move`,
      plait: cell(wallS(p), 's'), peer: cell(wallS(o), 's'), ratio: ratioCell(wallS(p), wallS(o)), requests: requestsCell(p, o),
      goal: '(not the same work: information)', verdict: 'info', notes: trafficNotes([['plait', p], ['oras', o]]),
    },
    row(`cold push (${where}): plait manifest push vs buildah manifest push --all`, 'buildah', po.get('plait')!, po.get('buildah')!, 0.8),
    {
      case: `cold push (${where}) of a list kept in a local store: crane, regctl, manifest-tool, oras — cannot (no local list store; their one-shot assembly rows above are the comparison)`,
      plait: '—', peer: '—', ratio: '—', requests: '—', goal: '—', verdict: 'info', notes: [],
    },
  ];
}

export const coldSame: BenchCase = {
  name: 'cold-same',
  title: 'cold assembly on the same registry (distribution 2.8)',
  run: (ctx) => runColdSame(ctx, ctx.a, 'cold-same'),
};

export const coldSameV3: BenchCase = {
  name: 'cold-same-v3',
  title: 'cold assembly on the same registry (distribution v3)',
  run: (ctx) => runColdSame(ctx, ctx.v, 'cold-same-v3'),
};
