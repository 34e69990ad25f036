import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { alternate, cell, failedRow, ratioCell, reportedNote, requestsCell, rssMiB, trafficNotes, verdict, wallS } from '../lib/bench.js';
import type { BenchCase } from '../lib/bench.js';
import { countZstdInstances } from '../lib/registry.js';
import { writeSpecs } from '../lib/spec.js';
import { clearBlobInfoCache, PEER_TLS, plait, skopeo } from '../lib/tools.js';

// zstd variants of the 4-platform list on the same registry, to a new repository each run. plait: a spec with
// compression.variants [zstd] and an empty store (the originals are mounted, one zstd instance per platform is
// written). skopeo: copy --all --dest-compress-format zstd with the blob-info cache deleted before each run (with a
// warm cache skopeo reuses the gzip blobs and silently keeps gzip). Before any timing, one plait apply must really
// yield zstd instances; otherwise the rows say "not measurable yet".

const GOALS = { wall: 'wall ≤ 0.8× skopeo', rss: 'peak RSS ≤ 0.7× skopeo' };

export const zstd: BenchCase = {
  name: 'zstd',
  title: 'zstd variants of the 4-platform list',
  async run(ctx) {
    const { a, tools } = ctx;
    const list = await ctx.fixtures.multi();
    const dir = join(ctx.work, 'zstd');
    const label = `zstd variants of the 4-platform list, same registry, vs skopeo copy --all --dest-compress-format zstd (empty cache)`;
    const prepare = async (repo: string) => {
      await rm(join(dir, 'store'), { recursive: true, force: true });
      await writeSpecs(join(dir, 'spec.yaml'), [{ name: 'zstd', destination: `${a.host}/${repo}`, tags: ['v1'], variants: ['zstd'], sources: [list.ref] }]);
    };
    const apply = () => plait(tools, ['apply', '--plain-http', '--store', join(dir, 'store'), join(dir, 'spec.yaml')], { allowFail: true });

    // Probe: does plait write zstd instances at all?
    await prepare('bench/z-probe');
    const probe = await apply();
    const found = probe.code === 0 ? await countZstdInstances(a.host, 'bench/z-probe', 'v1') : { instances: 0, zstd: 0 };
    if (probe.code !== 0 || found.zstd < list.instances) {
      const why = probe.code !== 0
        ? `plait apply with compression.variants [zstd] exited ${probe.code}: ${(probe.stderr || probe.stdout).trim().split('\n').slice(-4).join(' | ')}`
        : `plait apply exited 0 but the pushed list has ${found.instances} instances, ${found.zstd} with zstd layers (want ≥ ${list.instances})`;
      ctx.log(`[zstd] ${why}`);
      return [
        { ...failedRow(`${label} (wall)`, GOALS.wall, why, 'not measurable yet') },
        { ...failedRow(`${label} (peak RSS)`, GOALS.rss, why, 'not measurable yet'), notes: [] },
      ];
    }

    let n = 0;
    let id = '';
    const res = await alternate(ctx, 'zstd', [
      {
        name: 'plait', regs: [a],
        prepare: async () => {
          id = `${Date.now().toString(36)}-${n++}`;
          await prepare(`bench/z-plait-${id}`);
        },
        run: () => plait(tools, ['apply', '--plain-http', '--store', join(dir, 'store'), join(dir, 'spec.yaml')]),
      },
      {
        name: 'skopeo', regs: [a],
        prepare: async () => {
          id = `${Date.now().toString(36)}-${n++}`;
          await clearBlobInfoCache();
        },
        run: () => skopeo(tools, ['copy', '--quiet', '--all', '--dest-compress-format', 'zstd', ...PEER_TLS, `docker://${list.ref}`, `docker://${a.host}/bench/z-skopeo-${id}:v1`]),
        after: async (i) => {
          if (i !== 0) return;
          const z = await countZstdInstances(a.host, `bench/z-skopeo-${id}`, 'v1');
          if (z.zstd < list.instances) ctx.log(`[zstd] warning: skopeo wrote ${z.zstd}/${z.instances} zstd instances`);
        },
      },
    ], ctx.runs);
    const p = res.get('plait')!;
    const s = res.get('skopeo')!;
    const notes = [...trafficNotes([['plait', p], ['skopeo', s]]), `plait's list: ${found.instances} instances, ${found.zstd} zstd`, ...reportedNote(p)];
    return [
      {
        case: `${label} (wall)`,
        plait: cell(wallS(p), 's'), peer: cell(wallS(s), 's'), ratio: ratioCell(wallS(p), wallS(s)), requests: requestsCell(p, s),
        goal: GOALS.wall, verdict: verdict(wallS(p).median <= 0.8 * wallS(s).median), issueGoal: 'zstd', notes,
      },
      {
        case: `${label} (peak RSS)`,
        plait: cell(rssMiB(p), 'MiB'), peer: cell(rssMiB(s), 'MiB'), ratio: ratioCell(rssMiB(p), rssMiB(s)), requests: requestsCell(p, s),
        goal: GOALS.rss, verdict: verdict(rssMiB(p).median <= 0.7 * rssMiB(s).median), issueGoal: 'zstd', notes: [],
      },
    ];
  },
};
