import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { validateObject } from '../../src/reconcile/spec/index.js';
import { startControlPlane } from '../lab/kube.js';
import type { ControlPlane } from '../lab/kube.js';
import { runPlait } from '../helpers/cli.js';

// The generated CRD on a real kube-apiserver: it is accepted and Established, every example is accepted unchanged
// (and by plait validate), and documents the schema refuses are refused by the apiserver's own validation (422).

const root = fileURLToPath(new URL('../..', import.meta.url));
const CRD = join(root, 'config', 'crd', 'bases', 'plait.dev_manifestlists.yaml');
const EXAMPLES = join(root, 'examples');

const base = () => ({
  apiVersion: 'plait.dev/v1alpha1',
  kind: 'ManifestList',
  metadata: { name: 'bad', namespace: 'crd-test' },
  spec: {
    destination: { image: 'registry.example.com/acme/web', tags: ['latest'] },
    sources: [{ image: 'registry.example.com/acme/web:amd64' }] as Array<Record<string, unknown>>,
  } as Record<string, unknown>,
});

describe('the ManifestList CRD on a real apiserver', () => {
  let cp: ControlPlane;
  let work: string;

  beforeAll(async () => {
    cp = await startControlPlane();
    work = await mkdtemp(join(tmpdir(), 'plait-crd-'));
    const applied = await cp.kubectl(['apply', '-f', CRD]);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('customresourcedefinition.apiextensions.k8s.io/manifestlists.plait.dev created');
    const est = await cp.kubectl(['wait', '--for=condition=Established', 'crd/manifestlists.plait.dev', '--timeout=60s'], { timeoutMs: 90_000 });
    expect(est.stdout).toContain('condition met');
    expect((await cp.kubectl(['create', 'namespace', 'crd-test'])).code).toBe(0);
  });
  afterAll(async () => {
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is Established with its names, and kubectl get ml prints the columns', async () => {
    const conds = await cp.kubectl(['get', 'crd', 'manifestlists.plait.dev', '-o', 'jsonpath={range .status.conditions[*]}{.type}={.status} {end}']);
    expect(conds.stdout).toContain('Established=True');
    expect(conds.stdout).toContain('NamesAccepted=True');
    const created = await cp.kubectl(['apply', '-f', '-'], { input: stringify({ ...base(), metadata: { name: 'columns', namespace: 'crd-test' } }) });
    expect(created.stderr).toBe('');
    const get = await cp.kubectl(['-n', 'crd-test', 'get', 'ml']);
    expect(get.stdout.split('\n')[0]?.split(/\s+/)).toEqual(['NAME', 'READY', 'DIGEST', 'AGE']);
    expect(get.stdout).toContain('columns');
  });

  it('defaults what the schema defaults, as plait does', async () => {
    const got = await cp.kubectl(['-n', 'crd-test', 'get', 'ml', 'columns', '-o', 'json']);
    const spec = (JSON.parse(got.stdout) as { spec: Record<string, unknown> }).spec;
    expect(spec).toMatchObject({ format: 'oci', onConflict: 'replace', prune: true, interval: '10m', timeout: '5m', suspend: false, deletionPolicy: 'Orphan', historyLimit: 10 });
    expect(spec.retryInterval).toBeUndefined();
  });

  it('accepts every document of every example unchanged, and so does plait validate', async () => {
    const files = (await readdir(EXAMPLES)).filter((f) => /\.ya?ml$/.test(f)).sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    let documents = 0;
    for (const f of files) {
      const text = await readFile(join(EXAMPLES, f), 'utf8');
      const docs = parseAllDocuments(text);
      documents += docs.length;
      const r = await cp.kubectl(['-n', 'crd-test', 'apply', '--dry-run=server', '-f', join(EXAMPLES, f)]);
      expect(r.stderr, f).toBe('');
      expect(r.code, f).toBe(0);
      expect(r.stdout.trim().split('\n'), f).toHaveLength(docs.length);
      for (const line of r.stdout.trim().split('\n')) expect(line, f).toMatch(/^manifestlist\.plait\.dev\/\S+ created \(server dry run\)$/);
    }

    // The same files, byte for byte, in a directory of their own: the key files signed.yaml names only have to exist
    // for validate (examples/build-sources.ts makes the real ones; other tests run it, so it is left alone here).
    const copy = join(work, 'examples');
    await mkdir(copy, { recursive: true });
    for (const f of files) await copyFile(join(EXAMPLES, f), join(copy, f));
    for (const f of files) {
      for (const m of (await readFile(join(EXAMPLES, f), 'utf8')).matchAll(/\bfile: (\.build\/[^\s,}]+)/g)) {
        await mkdir(dirname(join(copy, m[1]!)), { recursive: true });
        await writeFile(join(copy, m[1]!), 'placeholder\n');
      }
    }
    for (const context of ['cli', 'controller']) {
      const v = await runPlait(['validate', '--context', context, copy], { cwd: root });
      expect(v.stderr, context).toBe('');
      expect(v.code, context).toBe(0);
      expect(v.stdout.toString('utf8').trim(), context).toBe(`${documents} specs valid`);
    }
  });

  // Each case: what is wrong, the document, the field the apiserver names. plait refuses the same documents.
  const invalid: Array<[string, (d: ReturnType<typeof base>) => void, string]> = [
    ['a value outside an enum', (d) => { d.spec.format = 'zip'; }, 'spec.format: Unsupported value: "zip"'],
    ['a tag that breaks the tag pattern', (d) => { d.spec.destination = { image: 'registry.example.com/acme/web', tags: ['-latest'] }; }, 'spec.destination.tags[0]'],
    ['a missing required field', (d) => { delete d.spec.sources; }, 'spec.sources: Required value'],
    ['a value of the wrong type', (d) => { d.spec.prune = 'sometimes'; }, 'spec.prune'],
    ['both sources of an exactly-one-of', (d) => {
      d.spec.signatures = { sigstore: [{ privateKey: { file: 'k', secretRef: { name: 'cosign', key: 'cosign.key' } } }] };
    }, 'spec.signatures.sigstore[0].privateKey: Invalid value: exactly one of file, secretRef must be set'],
    ['none of an exactly-one-of', (d) => { d.spec.signatures = { gpg: [{ key: {}, passphrase: { env: 'P' } }] }; }, 'spec.signatures.gpg[0].key'],
    ['platform next to platforms', (d) => { d.spec.sources = [{ image: 'busybox', platform: 'linux/amd64', platforms: ['linux/arm64'] }]; }, 'spec.sources[0]'],
    ['a platform string that is not os/arch', (d) => { d.spec.sources = [{ image: 'busybox', platform: 'linux' }]; }, 'spec.sources[0].platform'],
    ['a platform mapping without architecture', (d) => { d.spec.sources = [{ image: 'busybox', platform: { os: 'linux' } }]; }, 'spec.sources[0].platform.architecture: Required value'],
    ['duplicate tags', (d) => { d.spec.destination = { image: 'registry.example.com/acme/web', tags: ['a', 'a'] }; }, 'spec.destination.tags[1]: Duplicate value: "a"'],
    ['a duration that is not one', (d) => { d.spec.timeout = '5 minutes'; }, 'spec.timeout'],
    ['a ConfigMap reference without a name', (d) => { d.spec.caConfigMapRef = { key: 'ca.crt' }; }, 'spec.caConfigMapRef.name: Required value'],
    ['too many sources', (d) => { d.spec.sources = Array.from({ length: 257 }, (_, i) => ({ image: `busybox:${i}` })); }, 'spec.sources: Too many'],
  ];

  it.each(invalid)('refuses %s with 422, naming the field', async (_, change, field) => {
    const doc = base();
    change(doc);
    const r = await cp.kubectl(['apply', '--dry-run=server', '-v=6', '-f', '-'], { input: stringify(doc) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/status="422 Unprocessable Entity"/);
    expect(r.stderr).toContain('The ManifestList "bad" is invalid');
    expect(r.stderr).toContain(field);
    expect(validateObject(doc, { file: 'crd-test/bad', context: 'controller', checkLocal: false }).map(String)).not.toEqual([]);
  });
});
