import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, supervise } from './proc.js';
import type { Supervised } from './proc.js';

// A real Kubernetes control plane for the lab: etcd and kube-apiserver, built from their Go modules by
// .ci/build-go-parts.sh, started on free loopback ports with the flags controller-runtime's envtest uses (RBAC,
// service-account issuer and keys so TokenRequest works, a client CA for the admin certificate). No controller
// manager runs: namespaces never finish terminating and no default ServiceAccount appears, as with envtest. Both
// processes sit under the lab's guardian (proc.ts), so they die with the test process even when it is SIGKILLed.

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string;
  /** An admin kubeconfig (client certificate CN=admin, O=system:masters), current-context set. */
  kubeconfig: string;
  /** The apiserver's serving CA (PEM path). */
  caFile: string;
  /** The control plane's temp dir (certificates, etcd data, logs). */
  dir: string;
  kubectl(args: string[], opts?: { input?: string; kubeconfig?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  /**
   * GET an API path as the admin (the kubeconfig's client certificate), without a kubectl process: for polls, which
   * would otherwise start one every quarter second. Resolves with status and body, or undefined while nothing answers.
   */
  get(path: string): Promise<{ status: number; body: string } | undefined>;
  /** kubeconfig for a bearer token (e.g. from `kubectl create token`), same server and CA. */
  kubeconfigForToken(token: string, name: string): Promise<string>;
  /** Stop and start kube-apiserver on the same port; etcd (and so every object) is kept. */
  restartApiserver(): Promise<void>;
  stop(): Promise<void>;
}

const CACHE = process.env.PLAIT_LAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'plait-lab');

type KubeBinaries = { kubeApiserver: string; etcd: string; kubectl: string; helm: string };

function binaries<K extends keyof KubeBinaries>(want: readonly K[]): Pick<KubeBinaries, K> {
  const bin = join(CACHE, 'bin');
  const all: KubeBinaries = { kubeApiserver: join(bin, 'kube-apiserver'), etcd: join(bin, 'etcd'), kubectl: join(bin, 'kubectl'), helm: join(bin, 'helm') };
  const missing = want.map((k) => all[k]).filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(`${missing.join(', ')} not found: run "npm run setup" (or "bash .ci/build-go-parts.sh etcd kube-apiserver kubectl helm")`);
  }
  return all;
}

/** The Go-built binaries (links in the lab cache's bin/); throws one line naming `npm run setup` when any is missing. */
export function kubeBinaries(): KubeBinaries {
  return binaries(['kubeApiserver', 'etcd', 'kubectl', 'helm']);
}

// Start-up on a loaded 2-core machine: etcd takes a second or two, kube-apiserver 10-30 s (its post-start hooks
// bootstrap RBAC roles and priority levels); the budget is generous so that load never fails a test file.
const START_TIMEOUT_MS = 90_000;

async function makeCerts(dir: string): Promise<Record<'ca' | 'serverCert' | 'serverKey' | 'clientCa' | 'adminCert' | 'adminKey' | 'saKey' | 'saPub', string>> {
  await mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256'];
  const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  await Promise.all([
    run('openssl', ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=plait lab kube serving CA', ...caExt, '-keyout', p('ca.key'), '-out', p('ca.crt')]),
    run('openssl', ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=plait lab kube client CA', ...caExt, '-keyout', p('client-ca.key'), '-out', p('client-ca.crt')]),
    run('openssl', ['req', ...ec, '-subj', '/CN=kube-apiserver', '-keyout', p('apiserver.key'), '-out', p('apiserver.csr')]),
    run('openssl', ['req', ...ec, '-subj', '/O=system:masters/CN=admin', '-keyout', p('admin.key'), '-out', p('admin.csr')]),
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('sa.key')]),
    writeFile(p('apiserver.ext'), 'subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.0.0.1\n'
      + 'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n'),
    writeFile(p('admin.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n'),
  ]);
  await Promise.all([
    run('openssl', ['x509', '-req', '-in', p('apiserver.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-sha256',
      '-extfile', p('apiserver.ext'), '-out', p('apiserver.crt')]),
    run('openssl', ['x509', '-req', '-in', p('admin.csr'), '-CA', p('client-ca.crt'), '-CAkey', p('client-ca.key'), '-CAcreateserial', '-days', '2', '-sha256',
      '-extfile', p('admin.ext'), '-out', p('admin.crt')]),
    run('openssl', ['pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')]),
  ]);
  return {
    ca: p('ca.crt'), serverCert: p('apiserver.crt'), serverKey: p('apiserver.key'), clientCa: p('client-ca.crt'),
    adminCert: p('admin.crt'), adminKey: p('admin.key'), saKey: p('sa.key'), saPub: p('sa.pub'),
  };
}

const b64 = async (file: string) => (await readFile(file)).toString('base64');

function kubeconfigYaml(server: string, caData: string, user: string, creds: Record<string, string>): string {
  // JSON is YAML: no quoting questions for base64 data or tokens.
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'plait-lab', cluster: { server, 'certificate-authority-data': caData } }],
    users: [{ name: user, user: creds }],
    contexts: [{ name: user, context: { cluster: 'plait-lab', user, namespace: 'default' } }],
    'current-context': user,
    preferences: {},
  }, null, 2) + '\n';
}

/** GET url (TLS options for https); resolves with status and body, or undefined while nothing answers. */
function get(url: string, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const onResponse = (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    };
    const req = u.protocol === 'https:' ? request(u, { ...tls, timeout: 5000 }, onResponse) : httpRequest(u, { timeout: 5000 }, onResponse);
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tail(file: string, lines = 5): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean).slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

/** Poll until check() is true, the process has exited, or the deadline passes. */
async function waitFor(proc: Supervised, deadline: number, check: () => Promise<boolean>): Promise<'ready' | 'exited' | 'timeout'> {
  let gone = false;
  void proc.exited.then(() => { gone = true; });
  while (Date.now() < deadline) {
    if (gone) return 'exited';
    if (await check()) return 'ready';
    await sleep(200);
  }
  return 'timeout';
}

/** supervise() with output appended to logFile (the child keeps its own copy of the descriptor). */
async function superviseLogged(cmd: string, args: string[], logFile: string, stopTimeoutMs: number): Promise<Supervised> {
  const fh = await open(logFile, 'a');
  try {
    return supervise(cmd, args, fh.fd, undefined, stopTimeoutMs);
  } finally {
    await fh.close();
  }
}

export async function startControlPlane(opts: { keep?: boolean } = {}): Promise<ControlPlane> {
  const bins = binaries(['kubeApiserver', 'etcd', 'kubectl']);
  const started = Date.now();
  const deadline = started + START_TIMEOUT_MS;
  const dir = await mkdtemp(join(tmpdir(), 'plait-kube-'));
  let etcd: Supervised | undefined;
  let apiserver: Supervised | undefined;
  const stopAll = async () => {
    await apiserver?.stop();
    await etcd?.stop();
    if (!opts.keep) await rm(dir, { recursive: true, force: true });
  };
  try {
    const certs = await makeCerts(join(dir, 'pki'));
    const tls = { ca: await readFile(certs.ca), cert: await readFile(certs.adminCert), key: await readFile(certs.adminKey) };

    // etcd: a free client and peer port each attempt (another binder may win the race for a probed port).
    const etcdLog = join(dir, 'etcd.log');
    let etcdUrl = '';
    for (let attempt = 0; attempt < 5 && !etcdUrl; attempt++) {
      const [client, peer] = [await freePort(), await freePort()];
      const url = `http://127.0.0.1:${client}`;
      const peerUrl = `http://127.0.0.1:${peer}`;
      etcd = await superviseLogged(bins.etcd, [
        '--name=plait-lab', `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`,
        `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=plait-lab=${peerUrl}`,
        '--unsafe-no-fsync=true', '--log-level=warn', '--quota-backend-bytes=1073741824',
      ], etcdLog, 10_000);
      const state = await waitFor(etcd, deadline, async () => {
        const r = await get(`${url}/health`, {});
        return r?.status === 200 && r.body.includes('"health":"true"');
      });
      if (state === 'ready') etcdUrl = url;
      else if (state === 'timeout') throw new Error(`etcd did not become healthy in ${START_TIMEOUT_MS / 1000}s: ${await tail(etcdLog)}`);
      else await rm(join(dir, 'etcd'), { recursive: true, force: true });
    }
    if (!etcdUrl) throw new Error(`etcd did not start: ${await tail(etcdLog)}`);

    const apiLog = join(dir, 'kube-apiserver.log');
    const apiArgs = (port: number) => [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${port}`,
      `--tls-cert-file=${certs.serverCert}`, `--tls-private-key-file=${certs.serverKey}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--client-ca-file=${certs.clientCa}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=https://127.0.0.1:${port}`,
      `--service-account-key-file=${certs.saPub}`, `--service-account-signing-key-file=${certs.saKey}`,
      '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true',
      // No controller manager creates default ServiceAccounts here (envtest disables the plugin for the same reason).
      '--disable-admission-plugins=ServiceAccount',
      // The kubernetes Service's endpoints would be 127.0.0.1, which the apiserver refuses (and logs) every 10 s.
      '--endpoint-reconciler-type=none',
      '--profiling=false', '--v=1',
    ];
    const startApiserver = async (port: number): Promise<'ready' | 'exited'> => {
      apiserver = await superviseLogged(bins.kubeApiserver, apiArgs(port), apiLog, 20_000);
      const state = await waitFor(apiserver, Math.max(deadline, Date.now() + START_TIMEOUT_MS), async () => {
        const r = await get(`https://127.0.0.1:${port}/readyz`, tls);
        return r?.status === 200;
      });
      if (state === 'timeout') throw new Error(`kube-apiserver was not ready in ${START_TIMEOUT_MS / 1000}s: ${await tail(apiLog)}`);
      return state;
    };

    let port = 0;
    for (let attempt = 0; attempt < 5 && !port; attempt++) {
      const p = await freePort();
      if (await startApiserver(p) === 'ready') port = p;
    }
    if (!port) throw new Error(`kube-apiserver did not start: ${await tail(apiLog)}`);

    const server = `https://127.0.0.1:${port}`;
    const caData = await b64(certs.ca);
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigYaml(server, caData, 'admin',
      { 'client-certificate-data': await b64(certs.adminCert), 'client-key-data': await b64(certs.adminKey) }), { mode: 0o600 });
    const cacheDir = join(dir, 'kubectl-cache');

    const kubectl: ControlPlane['kubectl'] = (args, o = {}) => new Promise((resolve, reject) => {
      const child = spawn(bins.kubectl, ['--kubeconfig', o.kubeconfig ?? kubeconfig, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, KUBECONFIG: undefined, KUBECACHEDIR: cacheDir },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
      child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
      child.on('error', (e) => { clearTimeout(timer); reject(e); });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}kubectl killed (${signal})\n` : stderr });
      });
      child.stdin.on('error', () => { /* kubectl may exit before reading its input */ });
      child.stdin.end(o.input ?? '');
    });

    const cp: ControlPlane = {
      server,
      kubeconfig,
      caFile: certs.ca,
      dir,
      kubectl,
      get: (path) => get(`${server}${path}`, tls),
      async kubeconfigForToken(token, name) {
        const safe = name.replace(/[^A-Za-z0-9_.-]/g, '_');
        const file = join(dir, `kubeconfig-${safe}`);
        await writeFile(file, kubeconfigYaml(server, caData, safe, { token }), { mode: 0o600 });
        return file;
      },
      async restartApiserver() {
        await apiserver?.stop();
        // The port was ours a moment ago; Go listens with SO_REUSEADDR, so a retry only covers a slow release.
        for (let attempt = 0; attempt < 5; attempt++) {
          if (await startApiserver(port) === 'ready') return;
          await sleep(500);
        }
        throw new Error(`kube-apiserver did not restart on port ${port}: ${await tail(apiLog)}`);
      },
      stop: stopAll,
    };
    if (process.env.PLAIT_LAB_DEBUG === '1') console.error(`kube control plane ready in ${Date.now() - started} ms at ${server}`);
    return cp;
  } catch (e) {
    await stopAll();
    throw e;
  }
}
