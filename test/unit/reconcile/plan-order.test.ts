import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Store } from '../../../src/core/store/index.js';
import { toReconcileSpec } from '../../../src/reconcile/from-spec.js';
import { plan } from '../../../src/reconcile/plan.js';
import { loadSpecs } from '../../../src/reconcile/spec/index.js';

// A plan asks the destination tags at once, beside the sources (src/reconcile/plan.ts). The error it reports must
// still be the source's when both sides fail, and the destination's failure must not escape as an unhandled
// rejection (vitest fails the run on one).

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('plan asks the destination beside the sources', () => {
  it.each([false, true])('a missing source is the error reported, though the destination is unreachable too (toApply %s)', async (toApply) => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-plan-order-'));
    dirs.push(dir);
    const file = join(dir, 'spec.yaml');
    // Port 1 on loopback refuses connections: the destination's HEAD fails as soon as it is sent.
    await writeFile(file, [
      'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', 'metadata: {name: both-fail}', 'spec:',
      '  destination: {image: "127.0.0.1:1/plait/out", tags: [v1, v2]}', `  sources: [{image: "oci:${dir}/absent:app"}]`, '',
    ].join('\n'));
    const { specs, problems } = await loadSpecs([file], { context: 'cli' });
    expect(problems.map(String)).toEqual([]);
    const spec = toReconcileSpec(specs[0]!, { plainHttp: true });
    const store = await Store.open(join(dir, 'store'));
    const err = await plan(spec, store, undefined, { toApply }).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(`${dir}/absent`);
    expect(err!.message).not.toContain('127.0.0.1:1');
    // Let the destination's HEADs fail (and be caught) before the test ends: a refused connection is retried, ~2.4 s.
    await new Promise((r) => setTimeout(r, 3500));
  }, 15_000);
});
