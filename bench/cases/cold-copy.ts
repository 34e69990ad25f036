import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { alternate, cell, ratioCell, reportedNote, requestsCell, trafficNotes, verdict, wallS } from '../lib/bench.js';
import type { BenchCase, CaseContext, Row, Sample } from '../lib/bench.js';
import { crane, regctl } from '../lib/peers.js';
import type { BenchRegistry } from '../lib/registry.js';
import { measure } from '../lib/proc.js';
import type { RunResult } from '../lib/proc.js';
import { writeSpecs } from '../lib/spec.js';
import { clearBlobInfoCache, PEER_TLS, plait, skopeo } from '../lib/tools.js';
import { fmtSummary, summarize, MiB } from '../lib/stats.js';

// Cold real copy: the 4-platform list from registry A to a new repository on registry B, so every byte moves.
// plait: `plait apply` with an empty store; skopeo: `copy --all` with its blob-info cache deleted before each run;
// curl: one monolithic upload of a blob of the list's size (POST, then PUT ?digest= with -T; the PUT is timed) — the
// registry's ingest limit; crane copy and regctl image copy as the Go peers a user would pick. Throughput is bytes
// moved / wall time of the whole command. Case cold-copy-v3 copies from A (2.8) to distribution v3 instead of B.

async function curlPost(url: string): Promise<string> {
  const r = await measure('curl', ['-sS', '-o', '/dev/null', '-D', '-', '-X', 'POST', url]);
  const m = /^location:\s*(\S+)/im.exec(r.stdout);
  if (!m) throw new Error(`no Location from POST ${url}: ${r.stdout.split('\n')[0] ?? ''}`);
  return new URL(m[1]!, url).toString();
}

async function runColdCopy(ctx: CaseContext, b: BenchRegistry, tag: string): Promise<Row[]> {
    const { a, tools, go } = ctx;
    const list = await ctx.fixtures.multi();
    // The same-size blob for curl: the curve layer whose size matches the list (256 MiB; 16 MiB with --quick).
    const blob = await ctx.fixtures.layer((ctx.fixtures.sizes.listLayers * ctx.fixtures.sizes.listLayerMiB * 4));
    const dir = join(ctx.work, tag);
    let n = 0;
    let id = '';
    const fresh = () => {
      id = `${Date.now().toString(36)}-${n++}`;
      return Promise.resolve();
    };
    const res = await alternate(ctx, tag, [
      {
        name: 'plait', regs: [a, b],
        prepare: async () => {
          await fresh();
          await rm(join(dir, 'store'), { recursive: true, force: true });
          await writeSpecs(join(dir, 'spec.yaml'), [{ name: 'copy', destination: `${b.host}/bench/cc-plait-${id}`, tags: ['v1'], sources: [list.ref] }]);
        },
        run: () => plait(tools, ['apply', '--plain-http', ...(tools.copyJobs !== undefined ? ['--jobs', String(tools.copyJobs)] : []), '--store', join(dir, 'store'), join(dir, 'spec.yaml')]),
      },
      {
        name: 'skopeo', regs: [a, b],
        prepare: async () => {
          await fresh();
          await clearBlobInfoCache();
        },
        run: () => skopeo(tools, ['copy', '--quiet', '--all', ...PEER_TLS, `docker://${list.ref}`, `docker://${b.host}/bench/cc-skopeo-${id}:v1`]),
      },
      {
        name: 'crane copy', regs: [a, b], prepare: () => fresh(),
        run: () => crane(go, ['copy', list.ref, `${b.host}/bench/cc-crane-${id}:v1`]),
      },
      {
        name: 'regctl image copy', regs: [a, b], prepare: () => fresh(),
        run: () => regctl(go, ['image', 'copy', list.ref, `${b.host}/bench/cc-regctl-${id}:v1`]),
      },
      {
        name: 'curl', regs: [b],
        prepare: () => fresh(),
        run: async (): Promise<RunResult> => {
          const loc = await curlPost(`http://${b.host}/v2/bench/cc-curl-${id}/blobs/uploads/`);
          const put = `${loc}${loc.includes('?') ? '&' : '?'}digest=${blob.blobDigest}`;
          return measure('curl', ['-sS', '-f', '-o', '/dev/null', '-T', blob.blobFile, '-X', 'PUT', put, '-H', 'Content-Type: application/octet-stream']);
        },
      },
    ], ctx.runs);
    const p = res.get('plait')!;
    const s = res.get('skopeo')!;
    const c = res.get('curl')!;
    const mibps = (x: Sample[], bytes: number) => summarize(x.map((v) => bytes / MiB / (v.wallMs / 1000)));
    const pT = mibps(p, list.bytes);
    const cT = mibps(c, blob.blobSize);
    const sT = mibps(s, list.bytes);
    const size = `${(list.bytes / MiB).toFixed(0)} MiB`;
    const where = b.label === 'V' ? `A (2.8)→V (distribution v3)` : 'A→B (distribution 2.8)';
    const goRow = (peer: string): Row => {
      const q = res.get(peer)!;
      return {
        case: `cold copy ${where}, 4-platform ${size} list, vs ${peer}`,
        plait: cell(wallS(p), 's'), peer: cell(wallS(q), 's'), ratio: ratioCell(wallS(p), wallS(q)), requests: requestsCell(p, q),
        goal: `wall ≤ 1.0× ${peer}`, verdict: verdict(wallS(p).median <= wallS(q).median), issueGoal: 'cold-copy',
        notes: [...trafficNotes([['plait', p], [peer, q]]), `throughput ${peer} ${fmtSummary(mibps(q, list.bytes), 'MiB/s')}`],
      };
    };
    return [
      {
        case: `cold copy ${where}, 4-platform ${size} list, vs skopeo copy --all (empty cache)`,
        plait: cell(wallS(p), 's'),
        peer: cell(wallS(s), 's'),
        ratio: ratioCell(wallS(p), wallS(s)),
        requests: requestsCell(p, s),
        goal: 'wall ≤ 0.8× skopeo',
        verdict: verdict(wallS(p).median <= 0.8 * wallS(s).median),
        issueGoal: 'cold-copy',
        notes: [...trafficNotes([['plait', p], ['skopeo', s]]),
          `throughput plait ${fmtSummary(pT, 'MiB/s')}, skopeo ${fmtSummary(sT, 'MiB/s')}`,
          ...reportedNote(p)],
      },
      {
        case: `cold copy ${where} throughput vs curl monolithic PUT of a ${(blob.blobSize / MiB).toFixed(0)} MiB blob (ingest limit)`,
        plait: fmtSummary(pT, 'MiB/s'),
        peer: fmtSummary(cT, 'MiB/s'),
        ratio: ratioCell(pT, cT),
        requests: requestsCell(p, c),
        goal: '≥ 0.9× curl throughput',
        verdict: verdict(pT.median >= 0.9 * cT.median),
        issueGoal: 'cold-copy',
        notes: [`curl PUT wall ${cell(wallS(c), 's')}`, ...reportedNote(p).map((x) => `${x}; blob throughput within the spec's own time ${fmtSummary(inSpecT(p, list.bytes), 'MiB/s')}`)],
      },
      goRow('crane copy'),
      goRow('regctl image copy'),
    ];
}

export const coldCopy: BenchCase = {
  name: 'cold-copy',
  title: 'cold real copy to another registry (distribution 2.8)',
  run: (ctx) => runColdCopy(ctx, ctx.b, 'cold-copy'),
};

export const coldCopyV3: BenchCase = {
  name: 'cold-copy-v3',
  title: 'cold real copy from distribution 2.8 to distribution v3',
  run: (ctx) => runColdCopy(ctx, ctx.v, 'cold-copy-v3'),
};

/** Bytes / the time plait reports for the spec (process start-up left out): the copy's own throughput. */
function inSpecT(p: Sample[], bytes: number) {
  return summarize(p.filter((x) => x.reportedMs !== undefined).map((x) => bytes / MiB / (x.reportedMs! / 1000)));
}
