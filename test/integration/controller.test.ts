import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, closeAllClients } from '../../src/transports/index.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { run } from '../lab/proc.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { startControlPlane } from '../lab/kube.js';
import type { ControlPlane } from '../lab/kube.js';
import { runPlait } from '../helpers/cli.js';
import { generateLayout } from '../lab/fixtures/generate.js';
import { parse as parseYaml } from 'yaml';
import { condition, getMl, kubectlOk, startController, waitUntil } from '../helpers/kube.js';
import type { MlObject, RunningController } from '../helpers/kube.js';

// plait controller against a real kube-apiserver + etcd and the lab's TLS registry (htpasswd auth): credentials come
// from a dockerconfigjson Secret, the registry's CA from a ConfigMap, a signing key and its passphrase from Secrets.

const lab = inject('lab');
const peers = inject('peers');
const T = lab.tls.host;
const { name: USER, password: PASSWORD } = lab.tls.user;
const PASSPHRASE = `pass-${createHash('sha256').update(PASSWORD).digest('hex').slice(0, 12)}`;
const NS = 'team-a';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tlsOpts = { certDir: lab.certDir, creds: `${USER}:${PASSWORD}` };

let cp: ControlPlane;
let keyPem = '';
const controllers: RunningController[] = [];
const allLogs: string[] = [];

async function rawDigest(ref: string): Promise<string> {
  return sha(await run('skopeo', ['inspect', '--raw', '--cert-dir', lab.certDir, '--creds', `${USER}:${PASSWORD}`, `docker://${ref}`]));
}

async function exists(ref: string): Promise<boolean> {
  try {
    await rawDigest(ref);
    return true;
  } catch {
    return false;
  }
}

function dockerConfig(password: string): string {
  return JSON.stringify({ auths: { [T]: { auth: Buffer.from(`${USER}:${password}`).toString('base64') } } });
}

async function applySecret(name: string, password: string) {
  await kubectlOk(cp, ['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson',
    metadata: { name, namespace: NS },
    data: { '.dockerconfigjson': Buffer.from(dockerConfig(password)).toString('base64') },
  }));
}

interface MlOpts {
  name: string;
  tags?: string[];
  sources?: Array<Record<string, unknown>>;
  extra?: Record<string, unknown>;
  labels?: Record<string, string>;
  secret?: string;
}

function ml(o: MlOpts): string {
  return JSON.stringify({
    apiVersion: 'plait.dev/v1alpha1', kind: 'ManifestList',
    metadata: { name: o.name, namespace: NS, ...(o.labels && { labels: o.labels }) },
    spec: {
      destination: { image: `${T}/ctl/${o.name}`, tags: o.tags ?? ['1.0', 'latest'] },
      sources: o.sources ?? [{ image: `${T}/ctl/src:amd64` }, { image: `${T}/ctl/src:arm64` }],
      secretRef: { name: o.secret ?? 'regcreds' },
      caConfigMapRef: { name: 'lab-ca' },
      interval: '10s',
      ...o.extra,
    },
  });
}

async function waitReady(name: string, generation?: number, ms = 90_000): Promise<MlObject> {
  return waitUntil(async () => {
    const o = await getMl(cp, NS, name);
    const ready = condition(o, 'Ready');
    return ready?.status === 'True' && o!.status!.observedGeneration === (generation ?? o!.metadata.generation) && o!.status!.digest ? o : undefined;
  }, ms, () => `${name} not Ready (generation ${generation ?? 'current'}): ${JSON.stringify((controllers.at(-1)?.logs() ?? '').slice(-3000))}`);
}

async function controller(args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const c = await startController(cp, args, env);
  controllers.push(c);
  return c;
}

async function stopAll() {
  for (const c of controllers.splice(0)) {
    await c.stop();
    allLogs.push(c.logs());
  }
}

beforeAll(async () => {
  cp = await startControlPlane();
  await kubectlOk(cp, ['apply', '--server-side', '-f', join(process.cwd(), 'config/crd/bases/plait.dev_manifestlists.yaml')]);
  await kubectlOk(cp, ['wait', '--for=condition=Established', 'crd/manifestlists.plait.dev', '--timeout=60s']);
  await kubectlOk(cp, ['create', 'namespace', NS]);
  await kubectlOk(cp, ['create', 'namespace', 'plait-system']);
  await applySecret('regcreds', PASSWORD);
  await kubectlOk(cp, ['create', 'configmap', 'lab-ca', '-n', NS, `--from-file=ca.crt=${lab.caFile}`]);
  // A signing key and its passphrase, made by plait itself, kept in Secrets.
  const keys = await mkdtemp(join(tmpdir(), 'plait-ctl-keys-'));
  const gen = await runPlait(['key', 'generate', '--prefix', join(keys, 'cosign')], { env: { PLAIT_PASSPHRASE: PASSPHRASE } });
  expect(gen.code, gen.stderr).toBe(0);
  keyPem = await readFile(join(keys, 'cosign.key'), 'utf8');
  await kubectlOk(cp, ['create', 'secret', 'generic', 'signing', '-n', NS, `--from-file=cosign.key=${join(keys, 'cosign.key')}`, `--from-literal=passphrase=${PASSPHRASE}`]);
  // Private copies of the sources on the TLS registry.
  const plain = { plainHttp: true };
  await copyImage(openImage(`docker://${peers.singles[0]!.ref}`, plain), openImage(`docker://${T}/ctl/src:amd64`, tlsOpts));
  await copyImage(openImage(`docker://${peers.singles[1]!.ref}`, plain), openImage(`docker://${T}/ctl/src:arm64`, tlsOpts));
  await copyImage(openImage(`docker://${peers.skopeoIndex.ref}`, plain), openImage(`docker://${T}/ctl/src:multi`, tlsOpts));
  await copyImage(openImage(`docker://${peers.singles[2]!.ref}`, plain), openImage(`docker://${T}/ctl/other:1`, tlsOpts));
}, 240_000);

afterAll(async () => {
  await stopAll();
  await closeAllClients();
  await cp?.stop();
}, 120_000);

describe('plait controller', () => {
  it('reconciles a ManifestList to Ready, pushes once, then costs only HEADs per interval', async () => {
    const c = await controller(['--leader-elect=false']);
    await kubectlOk(cp, ['apply', '-f', '-'], ml({
      name: 'web',
      extra: { signatures: { sigstore: [{ privateKey: { secretRef: { name: 'signing', key: 'cosign.key' } }, passphrase: { secretRef: { name: 'signing', key: 'passphrase' } } }] } },
    }));
    const o = await waitReady('web', 1);
    expect(o.metadata.finalizers).toContain('plait.dev/finalizer');
    expect(o.status!.instances!.map((i) => i.platform).sort()).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(await rawDigest(`${T}/ctl/web:1.0`)).toBe(o.status!.digest);
    expect(await rawDigest(`${T}/ctl/web:latest`)).toBe(o.status!.digest);
    // The list's sigstore attachment exists.
    expect(await exists(`${T}/ctl/web:${o.status!.digest!.replace(':', '-')}.sig`)).toBe(true);
    // kubectl sees it as users would.
    const wait = await cp.kubectl(['wait', '--for=condition=Ready', 'ml/web', '-n', NS, '--timeout=30s']);
    expect(wait.code, wait.stderr).toBe(0);
    const table = await kubectlOk(cp, ['get', 'ml', '-n', NS]);
    expect(table).toMatch(/NAME\s+READY\s+DIGEST\s+AGE/);
    expect(table).toMatch(new RegExp(`web\\s+True\\s+${o.status!.digest!.replace(':', ':')}`));
    const events = await kubectlOk(cp, ['get', 'events.events.k8s.io', '-n', NS, '-o', 'json']);
    expect(events).toContain('"reason": "Pushed"');

    // On its interval an unchanged object costs HEAD requests only.
    const before = await c.metric('plait_reconcile_total');
    const mark = await logMark(lab.tls.accessLog);
    await waitUntil(async () => (await c.metric('plait_reconcile_total')) >= before + 1, 30_000, () => 'no interval reconcile');
    const entries = await entriesSince(lab.tls.accessLog, mark);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.filter((e) => e.method !== 'HEAD')).toEqual([]);
    const after = await getMl(cp, NS, 'web');
    expect(after!.metadata.resourceVersion).toBe(o.metadata.resourceVersion);
  });

  it('kubectl apply of examples/web.yaml, retargeted at the lab registry, becomes Ready; oci: sources are read from the controller\'s disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-ctl-example-'));
    // The same layouts examples/build-sources.ts makes, in a directory of this test's own.
    await generateLayout({
      dir: join(dir, 'app'), tag: 'app', seed: 'plait-example-app',
      images: [
        { platform: { os: 'linux', architecture: 'amd64' }, layers: 2, layerSize: 64 * 1024, data: 'semi', labels: { 'org.opencontainers.image.title': 'app' } },
        { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: 2, layerSize: 64 * 1024, data: 'semi', labels: { 'org.opencontainers.image.title': 'app' } },
        { platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, layers: 2, layerSize: 64 * 1024, data: 'semi', labels: { 'org.opencontainers.image.title': 'app' } },
      ],
    });
    const doc = parseYaml(await readFile(join(process.cwd(), 'examples/web.yaml'), 'utf8')) as { metadata: Record<string, unknown>; spec: { destination: { image: string }; sources: Array<{ image: string }> } & Record<string, unknown> };
    doc.metadata.namespace = NS;
    doc.spec.destination.image = `${T}/ctl/example-web`;
    for (const src of doc.spec.sources) src.image = src.image.replace('oci:.build/sources/', `oci:${dir}/`);
    Object.assign(doc.spec, { secretRef: { name: 'regcreds' }, caConfigMapRef: { name: 'lab-ca' } });
    await kubectlOk(cp, ['apply', '-f', '-'], JSON.stringify(doc));
    const o = await waitReady(doc.metadata.name as string, 1);
    expect(o.status!.instances).toHaveLength(3);
    for (const tag of ['1.0.0', '1.0', 'latest']) expect(await rawDigest(`${T}/ctl/example-web:${tag}`)).toBe(o.status!.digest);
    // skopeo can copy the whole list back out.
    await run('skopeo', ['copy', '--all', '--src-cert-dir', lab.certDir, '--src-creds', `${USER}:${PASSWORD}`, `docker://${T}/ctl/example-web:1.0`, `oci:${join(dir, 'copy')}:x`]);
  });

  it('pushes again when the object changes; observedGeneration follows', async () => {
    const before = (await getMl(cp, NS, 'web'))!;
    await kubectlOk(cp, ['patch', 'ml', 'web', '-n', NS, '--type=json', '-p', JSON.stringify([
      { op: 'add', path: '/spec/sources/-', value: { image: `${T}/ctl/src:multi`, platforms: ['linux/s390x'] } },
    ])]);
    const o = await waitReady('web', before.metadata.generation + 1);
    expect(o.status!.digest).not.toBe(before.status!.digest);
    expect(o.status!.instances!.map((i) => i.platform)).toContain('linux/s390x');
    expect(o.status!.history!.map((h) => h.digest)).toEqual([o.status!.digest, before.status!.digest]);
    expect(await rawDigest(`${T}/ctl/web:1.0`)).toBe(o.status!.digest);
  });

  it('a controller with an empty store finds in-sync lists in sync: no manifest PUT', async () => {
    await stopAll();
    const mark = await logMark(lab.tls.accessLog);
    const c = await controller(['--leader-elect=false']);
    await waitUntil(async () => (await c.metric('plait_reconcile_total')) >= 1, 60_000, () => `no reconcile: ${c.logs()}`);
    await waitReady('web');
    const puts = (await entriesSince(lab.tls.accessLog, mark)).filter((e) => e.method !== 'HEAD' && e.method !== 'GET');
    expect(puts).toEqual([]);
  });

  it('suspend stops reconciling; the requestedAt annotation asks for one now and is echoed', async () => {
    const c = controllers.at(-1)!;
    const before = await c.metric('plait_reconcile_total', { result: 'suspended' });
    await kubectlOk(cp, ['patch', 'ml', 'web', '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { suspend: true, destination: { tags: ['1.0', 'latest', 'frozen'] } } })]);
    await waitUntil(async () => (await c.metric('plait_reconcile_total', { result: 'suspended' })) > before, 20_000, () => 'suspend not seen');
    expect(await exists(`${T}/ctl/web:frozen`)).toBe(false);
    const gen = (await getMl(cp, NS, 'web'))!.metadata.generation;
    await kubectlOk(cp, ['patch', 'ml', 'web', '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { suspend: false } })]);
    await waitReady('web', gen + 1);
    expect(await exists(`${T}/ctl/web:frozen`)).toBe(true);
    const stamp = new Date().toISOString();
    await kubectlOk(cp, ['annotate', '--overwrite', 'ml', 'web', '-n', NS, `reconcile.plait.dev/requestedAt=${stamp}`]);
    await waitUntil(async () => (await getMl(cp, NS, 'web'))?.status?.lastHandledReconcileAt === stamp, 30_000, () => 'requestedAt not handled');
  });

  it('a missing Secret: Ready=False naming it, retried with backoff, recovers when it appears; a rotated Secret is used next time', async () => {
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'later', secret: 'later-creds' }));
    await waitUntil(async () => condition(await getMl(cp, NS, 'later'), 'Ready')?.reason === 'SecretNotFound', 60_000, () => 'no SecretNotFound');
    const ready = condition(await getMl(cp, NS, 'later'), 'Ready')!;
    expect(ready.status).toBe('False');
    expect(ready.message).toContain('later-creds');
    await applySecret('later-creds', PASSWORD);
    await waitReady('later', 1);

    // A Secret with a wrong password, then rotated to the right one.
    await applySecret('rot-creds', 'wrong-password');
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'rot', secret: 'rot-creds' }));
    await waitUntil(async () => {
      const r = condition(await getMl(cp, NS, 'rot'), 'Ready');
      return r?.status === 'False' && r.reason === 'ReconcileFailed';
    }, 60_000, () => 'wrong password not reported');
    expect(condition(await getMl(cp, NS, 'rot'), 'Ready')!.message).toMatch(/denied|authentication|unauthori/i);
    await applySecret('rot-creds', PASSWORD);
    await waitReady('rot', 1);
  });

  it('TLS failures say what to change in the object or in the controller\'s registries.conf, never a CLI flag', async () => {
    const failed = async (name: string) => waitUntil(async () => {
      const r = condition(await getMl(cp, NS, name), 'Ready');
      return r?.status === 'False' && r.reason === 'ReconcileFailed' ? r : undefined;
    }, 60_000, () => `${name}: no ReconcileFailed`);
    const conf = "mark it insecure = true in the controller's registries.conf (the chart's registriesConf value)";
    // The TLS registry with no CA given for it.
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'no-ca', extra: { caConfigMapRef: undefined } }));
    expect((await failed('no-ca')).message).toContain(`${T}: its TLS certificate is signed by an unknown authority: trust its CA with the object's spec.certSecretRef (ca.crt) or spec.caConfigMapRef, or ${conf}`);
    // A plain-HTTP source that nothing marks insecure.
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'plain-src', sources: [{ image: peers.singles[0]!.ref }] }));
    expect((await failed('plain-src')).message).toContain(`${lab.plain.host} answered plain HTTP to a TLS request: ${conf}`);
    for (const n of ['no-ca', 'plain-src']) {
      expect(condition(await getMl(cp, NS, n), 'Ready')!.message).not.toMatch(/--[a-z]/);
      await kubectlOk(cp, ['delete', 'ml', n, '-n', NS, '--wait=true', '--timeout=30s']);
    }
  });

  it('a resource the CRD accepts but plait refuses is Stalled with one message, without a retry storm', async () => {
    const c = controllers.at(-1)!;
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'bad', extra: { format: 'docker', compression: { variants: ['zstd'] } } }));
    await waitUntil(async () => condition(await getMl(cp, NS, 'bad'), 'Stalled')?.status === 'True', 30_000, () => 'not stalled');
    const o = (await getMl(cp, NS, 'bad'))!;
    expect(condition(o, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(condition(o, 'Stalled')!.message).toMatch(/docker|variant/i);
    const n = await c.metric('plait_reconcile_total', { result: 'stalled' });
    await new Promise((r) => setTimeout(r, 4000));
    expect(await c.metric('plait_reconcile_total', { result: 'stalled' })).toBe(n);
    await kubectlOk(cp, ['delete', 'ml', 'bad', '-n', NS, '--wait=true', '--timeout=30s']);
  });

  it('deletion: Orphan keeps the list; Delete removes it only while the tags still point at status.digest', async () => {
    await kubectlOk(cp, ['delete', 'ml', 'later', '-n', NS, '--wait=true', '--timeout=30s']);
    expect(await exists(`${T}/ctl/later:1.0`)).toBe(true);

    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'gone', extra: { deletionPolicy: 'Delete' } }));
    const g = await waitReady('gone', 1);
    expect(await rawDigest(`${T}/ctl/gone:latest`)).toBe(g.status!.digest);
    await kubectlOk(cp, ['delete', 'ml', 'gone', '-n', NS, '--wait=true', '--timeout=30s']);
    expect(await exists(`${T}/ctl/gone:1.0`)).toBe(false);
    expect(await exists(`${T}/ctl/gone:latest`)).toBe(false);

    // A tag someone moved since belongs to somebody else: the list (and its tags) stay.
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'moved', tags: ['only'], extra: { deletionPolicy: 'Delete' } }));
    await waitReady('moved', 1);
    await copyImage(openImage(`docker://${T}/ctl/other:1`, tlsOpts), openImage(`docker://${T}/ctl/moved:only`, tlsOpts));
    const moved = await rawDigest(`${T}/ctl/moved:only`);
    await kubectlOk(cp, ['delete', 'ml', 'moved', '-n', NS, '--wait=true', '--timeout=30s']);
    expect(await rawDigest(`${T}/ctl/moved:only`)).toBe(moved);
  });

  it('resumes after kube-apiserver restarts mid-watch; an expired resourceVersion relists and misses nothing', async () => {
    const c = controllers.at(-1)!;
    const relists = await c.metric('plait_watch_relists_total');
    // Writes elsewhere move the store's revision past the controller's last resourceVersion, so that a watch cache
    // started afresh cannot serve it: 410 Gone, then a relist.
    for (let i = 0; i < 5; i++) await kubectlOk(cp, ['create', 'configmap', `bump-${i}`, '-n', NS, `--from-literal=i=${i}`]);
    await cp.restartApiserver();
    const gen = (await getMl(cp, NS, 'web'))!.metadata.generation;
    await kubectlOk(cp, ['patch', 'ml', 'web', '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { destination: { tags: ['1.0', 'latest', 'frozen', 'after-restart'] } } })]);
    await waitReady('web', gen + 1);
    expect(await exists(`${T}/ctl/web:after-restart`)).toBe(true);
    expect(await c.metric('plait_watch_relists_total')).toBeGreaterThan(relists);
  });

  it('leader election: only the leader reconciles; kill -9 of the leader hands over within the lease duration', async () => {
    await stopAll();
    const args = ['--leader-elect=true', '--leader-election-namespace', 'plait-system', '--lease-duration', '6s', '--renew-deadline', '4s', '--retry-period', '1s'];
    const a = await controller(args);
    const b = await controller(args);
    const leaderOf = async () => {
      const [la, lb] = [await a.metric('plait_leader'), await b.metric('plait_leader')];
      return la + lb === 1 ? (la === 1 ? a : b) : undefined;
    };
    const leader = await waitUntil(leaderOf, 30_000, () => 'no single leader');
    const follower = leader === a ? b : a;
    await waitUntil(async () => (await leader.metric('plait_reconcile_total')) >= 1, 30_000, () => 'leader did not reconcile');
    expect(await follower.metric('plait_reconcile_total')).toBe(0);
    leader.proc.kill('SIGKILL');
    const killed = Date.now();
    await waitUntil(async () => (await follower.metric('plait_leader')) === 1, 20_000, () => 'no takeover');
    expect(Date.now() - killed).toBeLessThan(6000 + 3000);
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'after-takeover' }));
    await waitReady('after-takeover', 1);
    // Every push was made once: one "pushed" line per object and generation across both controllers.
    const pushes = [a, b].flatMap((c) => c.logs().split('\n').filter((l) => / pushed sha256:/.test(l)).map((l) => /(\S+\/\S+): pushed .* generation=(\d+)/.exec(l)?.slice(1, 3).join('@')));
    expect(new Set(pushes).size, pushes.join(' ')).toBe(pushes.length);
    // SIGTERM: running work finishes, the Lease is released (no successor has to wait it out), exit 0.
    expect(await follower.stop('SIGTERM')).toBe(0);
    const lease = JSON.parse(await kubectlOk(cp, ['get', 'lease', 'plait-controller', '-n', 'plait-system', '-o', 'json'])) as { spec: { holderIdentity?: string; leaseDurationSeconds?: number } };
    expect(lease.spec.holderIdentity ?? '').toBe('');
    expect(follower.logs()).toContain('released lease');
  });

  it('two shards by label selector each reconcile only theirs', async () => {
    await stopAll();
    const a = await controller(['--leader-elect=false', '--watch-label-selector', 'shard=a']);
    const b = await controller(['--leader-elect=false', '--watch-label-selector', 'shard=b']);
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'shard-a', labels: { shard: 'a' } }));
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'shard-b', labels: { shard: 'b' } }));
    await waitReady('shard-a', 1);
    await waitReady('shard-b', 1);
    // A reconcile logs its outcome after the status patch and the event, so Ready can be seen before the line is.
    await waitUntil(() => Promise.resolve(a.logs().includes(`${NS}/shard-a:`) && b.logs().includes(`${NS}/shard-b:`)), 10_000, () => 'no outcome line');
    expect(a.logs()).toContain(`${NS}/shard-a`);
    expect(a.logs()).not.toContain(`${NS}/shard-b`);
    expect(b.logs()).toContain(`${NS}/shard-b`);
    expect(b.logs()).not.toContain(`${NS}/shard-a`);
    expect(a.logs()).not.toContain(`${NS}/web`);
  });

  it('registries.conf is honoured: an insecure entry lets it read a plain-HTTP source, a blocked prefix is refused before any request', async () => {
    await stopAll();
    const P = lab.plain.host;
    const conf = join(await mkdtemp(join(tmpdir(), 'plait-ctl-regconf-')), 'registries.conf');
    await writeFile(conf, ['[[registry]]', `location = "${P}"`, 'insecure = true', '', '[[registry]]', `location = "${P}/blocked"`, 'blocked = true', ''].join('\n'));
    await controller(['--leader-elect=false'], { CONTAINERS_REGISTRIES_CONF: conf });
    // The object says nothing about plain HTTP: only the file lets the controller read the source over http.
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'regconf', sources: [{ image: peers.singles[0]!.ref }] }));
    await waitReady('regconf', 1);
    const mark = await logMark(lab.plain.accessLog);
    await kubectlOk(cp, ['apply', '-f', '-'], ml({ name: 'regconf-blocked', sources: [{ image: `${P}/blocked/app:v1` }] }));
    const ready = await waitUntil(async () => {
      const r = condition(await getMl(cp, NS, 'regconf-blocked'), 'Ready');
      return r?.status === 'False' && /is blocked/.test(r.message ?? '') ? r : undefined;
    }, 60_000, () => 'not refused as blocked');
    expect(ready.message).toContain('registries.conf');
    expect((await entriesSince(lab.plain.accessLog, mark)).filter((e) => e.path.includes('/blocked/'))).toEqual([]);
    for (const n of ['regconf', 'regconf-blocked']) await kubectlOk(cp, ['delete', 'ml', n, '-n', NS, '--wait=true', '--timeout=30s']);
  });

  it('no password, token or passphrase in logs, events or any status', async () => {
    await stopAll();
    const statuses = await kubectlOk(cp, ['get', 'ml', '-A', '-o', 'json']);
    const events = await kubectlOk(cp, ['get', 'events.events.k8s.io', '-A', '-o', 'json']);
    const haystack = [...allLogs, statuses, events].join('\n');
    expect(haystack.length).toBeGreaterThan(1000);
    const keyBody = keyPem.split('\n').filter((l) => l.length > 40)[0]!;
    for (const secret of [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), PASSPHRASE, keyBody, 'wrong-password']) {
      expect(haystack.includes(secret), `found a secret: ${secret.slice(0, 4)}…`).toBe(false);
    }
  });
});
