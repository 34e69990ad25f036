import { join } from 'node:path';
import { alternate, cell, cpu, ratioCell, rssMiB, verdict, wallS } from '../lib/bench.js';
import type { BenchCase } from '../lib/bench.js';
import { measure } from '../lib/proc.js';
import { writeSpecs } from '../lib/spec.js';
import { plait } from '../lib/tools.js';

// `plait --version` and `plait validate FILE` from process start to exit, against the floor of any Node CLI,
// `node -e 0`. Nothing is contacted. Twice as many counted runs as the other cases (each run is short and start-up
// time is noisy). Goals (issue 15): --version ≤ 1.3×, validate ≤ 1.6× node -e 0; validate's peak RSS ≤ 55 MiB.

export const VERSION_RATIO = 1.3;
export const VALIDATE_RATIO = 1.6;
export const VALIDATE_RSS_MIB = 55;

export const validate: BenchCase = {
  name: 'validate',
  title: 'plait validate of one file',
  async run(ctx) {
    const { a, tools } = ctx;
    const file = await writeSpecs(join(ctx.work, 'validate', 'spec.yaml'), [{
      name: 'validate-me', destination: `${a.host}/bench/validate`, tags: ['v1', 'latest'],
      sources: [`${a.host}/bench/multi:v1`, `${a.host}/bench/single:linux-amd64`], variants: ['zstd'],
    }]);
    const res = await alternate(ctx, 'validate', [
      { name: 'plait', regs: [], run: () => plait(tools, ['validate', file]) },
      { name: 'plait --version', regs: [], run: () => plait(tools, ['--version']) },
      { name: 'node', regs: [], run: () => measure(tools.node, ['-e', '0']) },
    ], ctx.runs * 2);
    const p = res.get('plait')!;
    const n = res.get('node')!;
    const v = res.get('plait --version')!;
    const ms = (s: typeof p) => {
      const w = wallS(s);
      return { ...w, median: w.median * 1000, min: w.min * 1000, max: w.max * 1000 };
    };
    return [{
      case: 'plait --version (process start to exit) vs node -e 0',
      plait: cell(ms(v), 'ms'),
      peer: cell(ms(n), 'ms'),
      ratio: ratioCell(wallS(v), wallS(n)),
      requests: '— (no registry)',
      goal: `≤ ${VERSION_RATIO}× node -e 0`,
      verdict: verdict(wallS(v).median <= VERSION_RATIO * wallS(n).median),
      issueGoal: 'startup',
      notes: [`peak RSS plait --version ${cell(rssMiB(v), 'MiB')}; CPU ${cell(cpu(v), 's')}`],
    }, {
      case: 'plait validate of one file (process start to exit) vs node -e 0',
      plait: cell(ms(p), 'ms'),
      peer: cell(ms(n), 'ms'),
      ratio: ratioCell(wallS(p), wallS(n)),
      requests: '— (no registry)',
      goal: `≤ ${VALIDATE_RATIO}× node -e 0`,
      verdict: verdict(wallS(p).median <= VALIDATE_RATIO * wallS(n).median),
      issueGoal: 'startup',
      notes: [`peak RSS plait ${cell(rssMiB(p), 'MiB')}, node -e 0 ${cell(rssMiB(n), 'MiB')}; CPU plait ${cell(cpu(p), 's')}, node ${cell(cpu(n), 's')}`],
    }, {
      case: 'plait validate of one file: peak RSS',
      plait: cell(rssMiB(p), 'MiB'),
      peer: cell(rssMiB(n), 'MiB'),
      ratio: ratioCell(rssMiB(p), rssMiB(n)),
      requests: '— (no registry)',
      goal: `≤ ${VALIDATE_RSS_MIB} MiB`,
      verdict: verdict(rssMiB(p).median <= VALIDATE_RSS_MIB),
      issueGoal: 'rss',
      notes: [],
    }];
  },
};
