import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { INSTANCE_FACT } from '../../../src/core/list/list.js';
import { Store } from '../../../src/core/store/index.js';
import { toReconcileSpec } from '../../../src/reconcile/from-spec.js';
import { reconcileAll } from '../../../src/reconcile/run.js';
import { loadSpecs } from '../../../src/reconcile/spec/index.js';
import type { TransportOptions } from '../../../src/transports/index.js';
import { generateLayout } from '../../lab/fixtures/generate.js';
import { runPlait } from '../../helpers/cli.js';

// Many specs in one run, reconciled a few at a time, sharing their sources: what each source resolves to is worked
// out once per run (its facts read once, not once per spec), yet every spec still gets its own outcome, reported in
// document order, and a source that fails fails each spec naming it the way it did when each resolved it alone.

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const COUNT = 12;
const BROKEN = new Set([3, 8]);

async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), 'plait-many-'));
  dirs.push(dir);
  await generateLayout({
    dir: join(dir, 'src'), tag: 'app',
    images: [
      { platform: { os: 'linux', architecture: 'amd64' }, layers: 1, layerSize: 2048, data: 'random' },
      { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: 1, layerSize: 2048, data: 'random' },
    ],
  });
  const doc = (i: number, extra = '') => [
    'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', `metadata: {name: many-${i}}`, 'spec:',
    `  destination: {image: "oci:${dir}/out-${i}", tags: [v1]}`,
    '  sources:', `    - image: "oci:${dir}/src:app-linux-amd64"`, `    - image: "oci:${dir}/src:app-linux-arm64-v8"`, extra,
  ].join('\n');
  const docs = Array.from({ length: COUNT }, (_, k) => doc(k + 1));
  const file = join(dir, 'specs.yaml');
  await writeFile(file, docs.join('\n---\n'));
  // The same, but two specs also name a source tag the layout does not have.
  const broken = Array.from({ length: COUNT }, (_, k) => doc(k + 1, BROKEN.has(k + 1) ? `    - image: "oci:${dir}/src:app-missing"` : ''));
  const brokenFile = join(dir, 'broken.yaml');
  await writeFile(brokenFile, broken.join('\n---\n'));
  return { dir, file, brokenFile, store: join(dir, 'store') };
}

async function reconcileSpecs(file: string, transport: TransportOptions = {}) {
  const { specs, problems } = await loadSpecs([file], { context: 'cli' });
  expect(problems.map(String)).toEqual([]);
  return specs.map((s) => toReconcileSpec(s, transport));
}

describe('many specs in one run', () => {
  it('reads each shared instance\'s facts once per run, and reports every spec in document order', async () => {
    const f = await fixture();
    const specs = await reconcileSpecs(f.file);
    const store = await Store.open(f.store);
    const first = await reconcileAll(specs, store, { concurrency: 4 });
    expect(first.map((o) => o.error?.message)).toEqual(specs.map(() => undefined));
    expect(first.map((o) => o.name)).toEqual(specs.map((s) => s.name));
    expect(first.map((o) => o.result?.outcome)).toEqual(specs.map(() => 'pushed'));
    // Every list holds the same two instances.
    expect(new Set(first.map((o) => o.result?.digest)).size).toBe(1);

    // The no-op run: two instances shared by twelve specs. Resolving each spec's sources alone read each instance's
    // facts twice per spec (48 reads); shared, it is twice per instance.
    const again = await Store.open(f.store);
    const getFact = vi.spyOn(again, 'getFact');
    const second = await reconcileAll(await reconcileSpecs(f.file), again, { concurrency: 4 });
    expect(second.map((o) => [o.name, o.error?.message, o.result?.outcome, o.result?.digest]))
      .toEqual(first.map((o) => [o.name, undefined, 'in-sync', o.result?.digest]));
    const instanceReads = getFact.mock.calls.filter(([kind]) => kind === INSTANCE_FACT).length;
    expect(instanceReads).toBeGreaterThan(0);
    expect(instanceReads).toBeLessThanOrEqual(4);
  });

  it('a source that fails fails every spec naming it, alone, with the same message; the others are reconciled', async () => {
    for (const concurrency of [1, 4]) {
      const f = await fixture();
      const specs = await reconcileSpecs(f.brokenFile);
      const store = await Store.open(f.store);
      const outcomes = await reconcileAll(specs, store, { concurrency });
      expect(outcomes.map((o) => o.name)).toEqual(specs.map((s) => s.name));
      const failed = outcomes.filter((o) => o.error).map((o) => o.name);
      expect(failed).toEqual([...BROKEN].map((i) => `many-${i}`));
      const messages = new Set(outcomes.filter((o) => o.error).map((o) => o.error!.message));
      expect(messages.size).toBe(1);
      expect([...messages][0]).toContain('app-missing');
      expect(outcomes.filter((o) => !o.error).map((o) => o.result?.outcome)).toEqual(Array(COUNT - BROKEN.size).fill('pushed'));
      // Nothing of the failed specs reached the store.
      for (const i of BROKEN) expect(await store.resolve(`many-${i}`)).toBeUndefined();
    }
  });

  it('the CLI: table rows in document order, failures counted in the summary, exit 1', async () => {
    const f = await fixture();
    const run = await runPlait(['apply', '--store', f.store, '-o', 'json', f.brokenFile]);
    expect(run.code).toBe(1);
    const rows = JSON.parse(run.stdout.toString('utf8')) as Array<{ name: string; status: string }>;
    expect(rows.map((r) => r.name)).toEqual(Array.from({ length: COUNT }, (_, k) => `many-${k + 1}`));
    expect(rows.map((r) => r.status)).toEqual(Array.from({ length: COUNT }, (_, k) => (BROKEN.has(k + 1) ? 'failed' : 'pushed')));
    const table = await runPlait(['apply', '--store', f.store, f.brokenFile]);
    expect(table.code).toBe(1);
    expect(table.stderr).toContain(`${COUNT} specs: ${COUNT - BROKEN.size} in sync, ${BROKEN.size} failed`);
  });
});
