import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, kubeBinaries } from '../lab/kube.js';
import type { ControlPlane } from '../lab/kube.js';
import { freePort, run, supervise } from '../lab/proc.js';
import type { Supervised } from '../lab/proc.js';
import { PLAIT_BIN } from '../helpers/cli.js';
import { findRule, loadRegistriesConf } from '../../src/transports/registry/registries-conf.js';

// The chart and the kustomize base against a real kube-apiserver (etcd + kube-apiserver from the lab, no kubelet and
// no controller manager: objects are stored and validated, pods are never scheduled). helm and kubectl are the
// Go-built ones from the lab cache.

const root = fileURLToPath(new URL('../..', import.meta.url));
const chart = join(root, 'charts', 'plait');
const NS = 'plait-system';
const KUBE_VERSION = '1.36.3';
const SM_API = 'monitoring.coreos.com/v1/ServiceMonitor';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown }; [k: string]: unknown };

interface ValueSet { name: string; file?: string; apiVersions?: string[]; extra?: string[] }
const valueSets: ValueSet[] = [
  { name: 'default' },
  { name: 'namespaced', file: 'namespaced-values.yaml' },
  { name: 'leader election, 3 replicas', file: 'ha-values.yaml' },
  { name: 'ServiceMonitor on', file: 'servicemonitor-values.yaml', apiVersions: [SM_API] },
  { name: 'CRDs off', file: 'no-crds-values.yaml' },
  { name: 'leader election off', extra: ['--set', 'leaderElection.enabled=false'] },
  { name: 'registries.conf', file: 'registries-conf-values.yaml' },
];

const objects = (text: string): Obj[] =>
  parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null && typeof o === 'object');
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const find = (objs: Obj[], kind: string, name?: string, namespace?: string) =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name) && (namespace === undefined || o.metadata.namespace === namespace));

let cp: ControlPlane;
let helmHome: string;
const bins = () => kubeBinaries();

function exec(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => { /* may exit before reading */ });
    child.stdin.end(opts.input ?? '');
  });
}

/** helm with its own config/cache/data dirs and the lab's admin kubeconfig. */
const helm = (args: string[]) => exec(bins().helm, args, {
  env: {
    HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data'),
    KUBECONFIG: cp.kubeconfig,
  },
});

async function ok(p: Promise<{ code: number; stdout: string; stderr: string }>, what: string): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

const valueArgs = (v: ValueSet) => [...(v.file ? ['-f', join(chart, 'ci', v.file)] : []), ...(v.extra ?? [])];

async function template(v: ValueSet, release = 'plait', namespace = NS): Promise<string> {
  const apis = (v.apiVersions ?? []).flatMap((a) => ['--api-versions', a]);
  return ok(helm(['template', release, chart, '-n', namespace, '--kube-version', KUBE_VERSION, ...apis, ...valueArgs(v)]), `helm template (${v.name})`);
}

const kubectl = (args: string[], o: { input?: string; kubeconfig?: string } = {}) => ok(cp.kubectl(args, o), `kubectl ${args.slice(0, 2).join(' ')}`);

// What the server adds or helm alone sets; the rest of every object must match between chart and kustomize.
function normalise(o: Obj): Obj {
  const c = structuredClone(o);
  const m = c.metadata as Record<string, unknown> & Obj['metadata'];
  for (const f of ['uid', 'creationTimestamp', 'resourceVersion', 'managedFields', 'generation']) delete m[f];
  if (m.annotations) {
    delete m.annotations['kubectl.kubernetes.io/last-applied-configuration'];
    delete m.annotations['helm.sh/resource-policy'];
    if (Object.keys(m.annotations).length === 0) delete m.annotations;
  }
  if (m.labels) {
    delete m.labels['helm.sh/chart'];
    delete m.labels['app.kubernetes.io/managed-by'];
  }
  delete c.status;
  return c;
}

beforeAll(async () => {
  helmHome = await mkdtemp(join(tmpdir(), 'plait-helm-'));
  cp = await startControlPlane();
  for (const ns of [NS, 'team-a', 'team-b', 'plait-ns']) await kubectl(['create', 'namespace', ns]);
  // The namespace the chart installs into enforces the restricted Pod Security Standard.
  await kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted']);
  await kubectl(['apply', '-f', join(root, 'test', 'lab', 'fixtures', 'servicemonitor-crd.yaml')]);
  await kubectl(['wait', '--for=condition=Established', 'crd/servicemonitors.monitoring.coreos.com', '--timeout=60s']);
}, 180_000);

afterAll(async () => {
  await cp?.stop();
  if (helmHome) await rm(helmHome, { recursive: true, force: true });
});

describe('chart and kustomize base', () => {
  it('helm lint --strict passes for the default values and every value set', async () => {
    for (const v of valueSets) {
      const r = await helm(['lint', '--strict', chart, ...valueArgs(v)]);
      expect(r.code, `${v.name}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it('every value set renders what it asks for, and the server accepts it with strict validation', async () => {
    for (const v of valueSets) {
      const text = await template(v);
      const objs = objects(text);
      await kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: text });
      const dep = find(objs, 'Deployment', 'plait')[0] as Obj & { spec: { replicas: number; template: { spec: { containers: Array<{ args: string[] }> } } } };
      const args = dep.spec.template.spec.containers[0]!.args;
      const leases = find(objs, 'Role', 'plait-leader-election', NS);
      switch (v.name) {
        case 'default':
          expect(find(objs, 'CustomResourceDefinition')).toHaveLength(1);
          expect(find(objs, 'ClusterRole', 'plait')).toHaveLength(1);
          expect(find(objs, 'ServiceMonitor')).toHaveLength(0);
          expect(find(objs, 'PodDisruptionBudget')).toHaveLength(0);
          expect(leases).toHaveLength(1);
          expect(args).toContain('--leader-elect=true');
          // No registries.conf unless one is given.
          expect(find(objs, 'ConfigMap')).toHaveLength(0);
          expect(JSON.stringify(dep)).not.toContain('CONTAINERS_REGISTRIES_CONF');
          break;
        case 'namespaced':
          expect(find(objs, 'ClusterRole', 'plait')).toHaveLength(0);
          expect(find(objs, 'ClusterRoleBinding')).toHaveLength(0);
          expect(find(objs, 'Role', 'plait').map((o) => o.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
          expect(find(objs, 'RoleBinding', 'plait').map((o) => o.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
          expect(args).toContain('--watch-namespaces=team-a,team-b');
          expect(args).toContain('--watch-label-selector=plait.dev/managed=true');
          break;
        case 'leader election, 3 replicas':
          expect(dep.spec.replicas).toBe(3);
          expect(dep.spec).not.toHaveProperty('strategy');
          expect(leases).toHaveLength(1);
          expect(args).toEqual(expect.arrayContaining(['--leader-elect=true', `--leader-election-namespace=${NS}`, '--lease-duration=30s', '--renew-deadline=20s', '--retry-period=4s']));
          expect(find(objs, 'PodDisruptionBudget')).toHaveLength(1);
          break;
        case 'ServiceMonitor on': {
          expect(find(objs, 'ServiceMonitor', 'plait', NS)).toHaveLength(1);
          // Without the API in the cluster's capabilities, no ServiceMonitor is rendered.
          const without = objects(await template({ ...v, apiVersions: [] }));
          expect(find(without, 'ServiceMonitor')).toHaveLength(0);
          break;
        }
        case 'CRDs off':
          expect(find(objs, 'CustomResourceDefinition')).toHaveLength(0);
          expect((dep.spec.template.spec.containers[0] as unknown as { image: string }).image).toBe(`registry.example.com/plait@sha256:${'0'.repeat(64)}`);
          break;
        case 'registries.conf': {
          const pod = dep.spec.template.spec as unknown as {
            containers: Array<{ env: Array<{ name: string; value?: string }>; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
            volumes: Array<{ name: string; configMap?: { name: string } }>;
          };
          const cm = find(objs, 'ConfigMap', 'plait-registries-conf', NS)[0] as Obj & { data: Record<string, string> };
          const mount = pod.containers[0]!.volumeMounts.find((m) => m.name === 'registries-conf');
          expect(pod.volumes.find((x) => x.name === 'registries-conf')?.configMap?.name).toBe('plait-registries-conf');
          expect(mount?.readOnly).toBe(true);
          expect(Object.keys(cm.data)).toEqual(['registries.conf']);
          // The variable names the ConfigMap's one key under the mount, and plait reads the rendered text as written.
          expect(pod.containers[0]!.env.find((e) => e.name === 'CONTAINERS_REGISTRIES_CONF')?.value).toBe(`${mount!.mountPath}/registries.conf`);
          const file = join(helmHome, 'registries.conf');
          await writeFile(file, cm.data['registries.conf']!);
          const conf = loadRegistriesConf({ CONTAINERS_REGISTRIES_CONF: file, HOME: helmHome });
          expect(findRule(conf, 'registry.kube-system.svc:5000/team/app')?.insecure).toBe(true);
          expect(findRule(conf, 'registry.example.com/untrusted/app')?.blocked).toBe(true);
          break;
        }
        case 'leader election off':
          expect(leases).toHaveLength(0);
          expect(find(objs, 'RoleBinding', 'plait-leader-election')).toHaveLength(0);
          expect(args).toContain('--leader-elect=false');
          expect(args.some((a) => a.startsWith('--leader-election-'))).toBe(false);
          break;
      }
      // Secrets are only ever read.
      for (const role of [...find(objs, 'ClusterRole', 'plait'), ...find(objs, 'Role', 'plait')]) {
        const rules = role.rules as Array<{ resources: string[]; verbs: string[] }>;
        for (const r of rules.filter((x) => x.resources.includes('secrets'))) expect(r.verbs).toEqual(['get']);
      }
    }
  });

  it('the pod the Deployment would make passes the restricted Pod Security Standard (admission, dry run)', async () => {
    const dep = find(objects(await template(valueSets[0]!)), 'Deployment', 'plait')[0] as Obj & { spec: { template: { metadata: Obj['metadata']; spec: unknown } } };
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plait-pss-check', namespace: NS, labels: dep.spec.template.metadata.labels }, spec: dep.spec.template.spec };
    const r = await cp.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The check can fail: the same pod with a root user is refused by the namespace's policy.
    const bad = structuredClone(pod) as { spec: { securityContext: Record<string, unknown> } };
    bad.spec.securityContext.runAsNonRoot = false;
    const refused = await cp.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(bad) });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted/);
  });

  it('a typo in the values is refused by the schema with a line naming it', async () => {
    const r = await helm(['template', 'plait', chart, '--kube-version', KUBE_VERSION, '--set', 'replica=3']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/additional properties 'replica' not allowed/);
    const nested = await helm(['template', 'plait', chart, '--kube-version', KUBE_VERSION, '--set', 'leaderElection.enable=true']);
    expect(nested.code).not.toBe(0);
    expect(nested.stderr).toMatch(/at '\/leaderElection': additional properties 'enable' not allowed/);
    const ha = await helm(['template', 'plait', chart, '--kube-version', KUBE_VERSION, '--set', 'replicas=3', '--set', 'leaderElection.enabled=false']);
    expect(ha.code).not.toBe(0);
    expect(ha.stderr).toMatch(/replicas > 1 needs leaderElection.enabled=true/);
  });

  it('kubectl apply -k config/default gives the objects of the chart\'s default render (plus its Namespace)', async () => {
    const fromChart = objects(await kubectl(['apply', '--dry-run=server', '-o', 'yaml', '-f', '-'], { input: await template(valueSets[0]!) }));
    const fromKustomize = objects(await kubectl(['apply', '-k', join(root, 'config', 'default'), '--dry-run=server', '-o', 'yaml']));
    const flat = (objs: Obj[]) => objs.flatMap((o) => (o.kind === 'List' ? (o.items as Obj[]) : [o]));
    const a = new Map(flat(fromChart).map((o) => [key(o), normalise(o)]));
    const b = new Map(flat(fromKustomize).filter((o) => o.kind !== 'Namespace').map((o) => [key(o), normalise(o)]));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, o] of a) expect(b.get(k), k).toEqual(o);
    expect(flat(fromKustomize).filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)).toEqual([NS]);
  });
});

describe('helm install into the apiserver', () => {
  let manifest: Obj[] = [];
  const SA = `system:serviceaccount:${NS}:plait`;
  const NS_SA = 'system:serviceaccount:plait-ns:plait-ns';
  const canI = async (as: string, ...args: string[]) => (await cp.kubectl(['auth', 'can-i', '--as', as, ...args])).stdout.trim();

  it('creates every object of the release', async () => {
    await ok(helm(['install', 'plait', chart, '-n', NS]), 'helm install');
    manifest = objects(await ok(helm(['get', 'manifest', 'plait', '-n', NS]), 'helm get manifest'));
    expect(manifest.length).toBeGreaterThanOrEqual(10);
    for (const o of manifest) {
      const got = JSON.parse(await kubectl(['get', o.kind, o.metadata.name, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []), '-o', 'json'])) as Obj;
      expect(got.metadata.labels?.['app.kubernetes.io/managed-by'], key(o)).toBe('Helm');
    }
    await kubectl(['wait', '--for=condition=Established', 'crd/manifestlists.plait.dev', '--timeout=60s']);
  });

  it('the ServiceAccount may do what the controller needs and nothing more (cluster-wide install)', async () => {
    expect(await canI(SA, 'get', 'secrets', '-n', 'team-a')).toBe('yes');
    expect(await canI(SA, 'watch', 'manifestlists.plait.dev', '--all-namespaces')).toBe('yes');
    expect(await canI(SA, 'patch', 'manifestlists.plait.dev', '--subresource=status', '-n', 'team-a')).toBe('yes');
    expect(await canI(SA, 'update', 'manifestlists.plait.dev', '--subresource=finalizers', '-n', 'team-a')).toBe('yes');
    expect(await canI(SA, 'create', 'events.events.k8s.io', '-n', 'team-a')).toBe('yes');
    expect(await canI(SA, 'update', 'leases.coordination.k8s.io', '-n', NS)).toBe('yes');
    for (const verb of ['list', 'watch', 'create', 'update', 'patch', 'delete']) {
      expect(await canI(SA, verb, 'secrets', '-n', 'team-a'), `${verb} secrets`).toBe('no');
    }
    expect(await canI(SA, 'create', 'pods', '--subresource=exec', '-n', 'team-a')).toBe('no');
    expect(await canI(SA, 'create', 'pods', '-n', NS)).toBe('no');
    expect(await canI(SA, 'create', 'manifestlists.plait.dev', '-n', 'team-a')).toBe('no');
    expect(await canI(SA, 'delete', 'manifestlists.plait.dev', '-n', 'team-a')).toBe('no');
    expect(await canI(SA, 'get', 'leases.coordination.k8s.io', '-n', 'team-a')).toBe('no');
  });

  it('a namespaced install reads Secrets in its namespaces only, and has no Lease rights without leader election', async () => {
    await ok(helm(['install', 'plait-ns', chart, '-n', 'plait-ns', '--set', 'crds.install=false', '--set', 'rbac.aggregateToDefaultRoles=false',
      '--set', 'watchNamespaces={team-a}', '--set', 'leaderElection.enabled=false']), 'helm install (namespaced)');
    expect(await canI(NS_SA, 'get', 'secrets', '-n', 'team-a')).toBe('yes');
    expect(await canI(NS_SA, 'get', 'manifestlists.plait.dev', '-n', 'team-a')).toBe('yes');
    for (const ns of ['team-b', 'default', NS, 'plait-ns']) {
      expect(await canI(NS_SA, 'get', 'secrets', '-n', ns), `secrets in ${ns}`).toBe('no');
      expect(await canI(NS_SA, 'list', 'manifestlists.plait.dev', '-n', ns), `manifestlists in ${ns}`).toBe('no');
    }
    expect(await canI(NS_SA, 'list', 'manifestlists.plait.dev', '--all-namespaces')).toBe('no');
    expect(await canI(NS_SA, 'update', 'secrets', '-n', 'team-a')).toBe('no');
    expect(await canI(NS_SA, 'create', 'pods', '--subresource=exec', '-n', 'team-a')).toBe('no');
    expect(await canI(NS_SA, 'create', 'leases.coordination.k8s.io', '-n', 'plait-ns')).toBe('no');
    await ok(helm(['uninstall', 'plait-ns', '-n', 'plait-ns']), 'helm uninstall (namespaced)');
  });

  it('the controller, run out of cluster with a token of the chart\'s ServiceAccount, reconciles a ManifestList to Ready', async () => {
    const lab = inject('lab');
    const peers = inject('peers');
    // The sources go to the TLS registry, whose credentials the controller reads from a Secret (secrets: get).
    const repo = `${lab.tls.host}/deploy/app`;
    const creds = `${lab.tls.user.name}:${lab.tls.user.password}`;
    const srcs = peers.singles.slice(0, 2);
    for (const [i, s] of srcs.entries()) {
      await run('skopeo', [...peers.skopeoArgs, 'copy', '--src-tls-verify=false', '--dest-cert-dir', lab.certDir, '--dest-creds', creds,
        `docker://${s.ref}`, `docker://${repo}:src-${i}`]);
    }
    const auth = Buffer.from(creds).toString('base64');
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'regcred', namespace: 'team-a' }, type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { [lab.tls.host]: { auth } } })).toString('base64') } };
    // The registry's CA comes from a ConfigMap (configmaps: get).
    const ca = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lab-ca', namespace: 'team-a' }, data: { 'ca.crt': await readFile(lab.caFile, 'utf8') } };
    const ml = { apiVersion: 'plait.dev/v1alpha1', kind: 'ManifestList', metadata: { name: 'web', namespace: 'team-a' },
      spec: { destination: { image: repo, tags: ['multi'] }, sources: srcs.map((_, i) => ({ image: `${repo}:src-${i}` })),
        secretRef: { name: 'regcred' }, caConfigMapRef: { name: 'lab-ca' } } };
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [secret, ca, ml] }) });

    const token = (await kubectl(['create', 'token', 'plait', '-n', NS, '--duration=1h'])).trim();
    const kc = await cp.kubeconfigForToken(token, 'plait-controller');
    const store = await mkdtemp(join(tmpdir(), 'plait-controller-store-'));
    const log = join(store, 'controller.log');
    const fh = await open(log, 'a');
    let ctl: Supervised | undefined;
    try {
      ctl = supervise(process.execPath, [PLAIT_BIN, 'controller', '--kubeconfig', kc, '--leader-election-namespace', NS,
        '--metrics-addr', `127.0.0.1:${await freePort()}`, '--health-addr', `127.0.0.1:${await freePort()}`, '--store', join(store, 'store')],
      fh.fd, { ...process.env, POD_NAMESPACE: NS });
      const w = await cp.kubectl(['wait', '--for=condition=Ready', 'manifestlist/web', '-n', 'team-a', '--timeout=120s'], { timeoutMs: 130_000 });
      expect(w.code, `${w.stderr}\n${await readFile(log, 'utf8')}`).toBe(0);
      const raw = await run('skopeo', [...peers.skopeoArgs, 'inspect', '--raw', '--cert-dir', lab.certDir, '--creds', creds, `docker://${repo}:multi`]);
      expect((JSON.parse(raw) as { manifests: unknown[] }).manifests).toHaveLength(2);
    } finally {
      await ctl?.stop();
      await fh.close();
      await rm(store, { recursive: true, force: true });
    }
  }, 240_000);

  it('helm uninstall removes the release but leaves the CRD and the ManifestLists', async () => {
    const ml = { apiVersion: 'plait.dev/v1alpha1', kind: 'ManifestList', metadata: { name: 'kept', namespace: 'team-b' },
      spec: { destination: { image: 'registry.example.com/acme/kept', tags: ['1'] }, sources: [{ image: 'registry.example.com/acme/kept:1-amd64' }] } };
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify(ml) });
    await ok(helm(['uninstall', 'plait', '-n', NS]), 'helm uninstall');
    await kubectl(['get', 'crd', 'manifestlists.plait.dev']);
    expect((await kubectl(['get', 'manifestlist', 'kept', '-n', 'team-b', '-o', 'name'])).trim()).toBe('manifestlist.plait.dev/kept');
    for (const o of manifest.filter((x) => x.kind !== 'CustomResourceDefinition')) {
      const r = await cp.kubectl(['get', o.kind, o.metadata.name, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : [])]);
      expect(r.stderr, key(o)).toMatch(/NotFound|not found/);
    }
  });
});
