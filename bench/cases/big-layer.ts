import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { alternate, cell, ratioCell, reportedNote, requestsCell, rssMiB, trafficNotes, verdict, wallS } from '../lib/bench.js';
import type { BenchCase, Row, Sample } from '../lib/bench.js';
import { writeSpecs } from '../lib/spec.js';
import { fmtSummary, fmtValue, summarize, MiB } from '../lib/stats.js';
import { clearBlobInfoCache, PEER_TLS, plait, skopeo } from '../lib/tools.js';

// Memory while moving one big layer: a single-image source with one layer of 16, 64, 256 and 1024 MiB (1, 4, 16
// with --quick) on registry A, copied to a new repository on registry B — plait with a one-source spec and an empty
// store, skopeo copy with an emptied blob-info cache. Peak RSS is the process's ru_maxrss from GNU time.
// "Flat" means the peak at the largest size is at most FLAT_MIB above the peak at the smallest.

export const FLAT_MIB = 16;
export const RSS_LIMIT_MIB = 100;

const signed = (v: number) => `${v >= 0 ? '+' : '−'}${fmtValue(Math.abs(v), 'MiB')}`;

export const bigLayer: BenchCase = {
  name: 'big-layer',
  title: 'one big layer: peak RSS',
  async run(ctx) {
    const { a, b, tools } = ctx;
    const sizes = ctx.fixtures.sizes.curve;
    const dir = join(ctx.work, 'big-layer');
    const per: Array<{ mib: number; bytes: number; p: Sample[]; s: Sample[] }> = [];
    let n = 0;
    let id = '';
    for (const mib of sizes) {
      const fx = await ctx.fixtures.layer(mib);
      const res = await alternate(ctx, `big-layer/${mib}m`, [
        {
          name: 'plait', regs: [a, b],
          prepare: async () => {
            id = `${Date.now().toString(36)}-${n++}`;
            await rm(join(dir, 'store'), { recursive: true, force: true });
            await writeSpecs(join(dir, 'spec.yaml'), [{ name: 'layer', destination: `${b.host}/bench/bl-${mib}m-plait-${id}`, tags: ['v1'], sources: [fx.ref] }]);
          },
          run: () => plait(tools, ['apply', '--plain-http', '--store', join(dir, 'store'), join(dir, 'spec.yaml')]),
        },
        {
          name: 'skopeo', regs: [a, b],
          prepare: async () => {
            id = `${Date.now().toString(36)}-${n++}`;
            await clearBlobInfoCache();
          },
          run: () => skopeo(tools, ['copy', '--quiet', ...PEER_TLS, `docker://${fx.ref}`, `docker://${b.host}/bench/bl-${mib}m-skopeo-${id}:v1`]),
        },
      ], ctx.runs);
      per.push({ mib, bytes: fx.bytes, p: res.get('plait')!, s: res.get('skopeo')! });
    }
    const largest = per[per.length - 1]!;
    const smallest = per[0]!;
    const label = (mib: number) => (mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`);
    const rows: Row[] = per.map((x) => {
      const isLargest = x === largest;
      const mibps = (s: Sample[]) => summarize(s.map((v) => x.bytes / MiB / (v.wallMs / 1000)));
      return {
        case: `one ${label(x.mib)} layer A→B: peak RSS vs skopeo copy`,
        plait: cell(rssMiB(x.p), 'MiB'),
        peer: cell(rssMiB(x.s), 'MiB'),
        ratio: ratioCell(rssMiB(x.p), rssMiB(x.s)),
        requests: requestsCell(x.p, x.s),
        goal: isLargest ? `peak RSS ≤ ${RSS_LIMIT_MIB} MiB` : '(curve point)',
        verdict: isLargest ? verdict(rssMiB(x.p).median <= RSS_LIMIT_MIB) : 'info',
        ...(isLargest && { issueGoal: 'rss' }),
        notes: [
          ...trafficNotes([['plait', x.p], ['skopeo', x.s]]),
          `wall plait ${cell(wallS(x.p), 's')} (${fmtSummary(mibps(x.p), 'MiB/s')}), skopeo ${cell(wallS(x.s), 's')} (${fmtSummary(mibps(x.s), 'MiB/s')})`,
          ...reportedNote(x.p),
        ],
      };
    });
    const curve = (pick: (v: typeof per[number]) => Sample[]) => per.map((x) => rssMiB(pick(x)).median.toFixed(0)).join(' / ') + ' MiB';
    const growth = rssMiB(largest.p).median - rssMiB(smallest.p).median;
    const peerGrowth = rssMiB(largest.s).median - rssMiB(smallest.s).median;
    rows.push({
      case: `peak RSS curve over ${per.map((x) => label(x.mib)).join(', ')} (medians)`,
      plait: curve((x) => x.p),
      peer: curve((x) => x.s),
      ratio: `growth ${signed(growth)} / ${signed(peerGrowth)}`,
      requests: '—',
      goal: `flat: ${label(largest.mib)} peak ≤ ${label(smallest.mib)} peak + ${FLAT_MIB} MiB`,
      verdict: verdict(growth <= FLAT_MIB),
      issueGoal: 'rss',
      notes: [],
    });
    return rows;
  },
};
