import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createList } from '../../../src/core/list/ops.js';
import { Store } from '../../../src/core/store/index.js';
import { applyPlan } from '../../../src/reconcile/apply.js';
import { toReconcileSpec } from '../../../src/reconcile/from-spec.js';
import { plan } from '../../../src/reconcile/plan.js';
import { loadSpecs } from '../../../src/reconcile/spec/index.js';
import { generateLayout } from '../../lab/fixtures/generate.js';

// Two applies of one spec on one store: the first creates the list, takes its lock and fails, and so deletes the list
// again, while the second waits for that lock holding the list's id. The torture runs' concurrent writers met this:
// the second then worked on a deleted record ("no list named …"). It must start over on a list of its own.

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('a list removed by a failed writer while another waited for it', () => {
  it('the waiting apply starts over and pushes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-removed-'));
    dirs.push(dir);
    await generateLayout({ dir: join(dir, 'src'), tag: 'app', images: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: 1, layerSize: 4096, data: 'random' }] });
    const file = join(dir, 'spec.yaml');
    await writeFile(file, [
      'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', 'metadata: {name: raced}', 'spec:',
      `  destination: {image: "oci:${dir}/out", tags: [v1]}`, `  sources: [{image: "oci:${dir}/src:app-linux-amd64"}]`, '',
    ].join('\n'));
    const { specs, problems } = await loadSpecs([file], { context: 'cli' });
    expect(problems.map(String)).toEqual([]);
    const spec = toReconcileSpec(specs[0]!, {});
    const store = await Store.open(join(dir, 'store'));

    // The first writer: it has created the list and holds its lock.
    const { id } = await createList(store, 'raced');
    let release!: () => void;
    const firstWriter = store.withListLock(id, () => new Promise<void>((r) => (release = r)));

    const second = applyPlan(await plan(spec, store), store);
    await new Promise((r) => setTimeout(r, 300)); // the second reads the record and queues for its lock
    // The first fails: it deletes the list it created, then lets go of the lock.
    await store.deleteRecord(id);
    release();
    await firstWriter;

    const r = await second;
    expect(r.outcome).toBe('pushed');
    const now = await store.resolve('raced');
    expect(now).toBeDefined();
    expect(now).not.toBe(id);
    const index = JSON.parse(await readFile(join(dir, 'out', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(index.manifests.map((m) => m.digest)).toContain(r.digest);
  });
});
