import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLAIT_BIN } from './cli.js';
import type { ControlPlane } from '../lab/kube.js';

// Helpers for tests of `plait controller` against the lab's real kube-apiserver: start controller processes as a
// user would (the built CLI), read their logs and metrics, and wait for what the apiserver reports.

export interface RunningController {
  proc: ChildProcess;
  /** Everything it wrote to stderr so far. */
  logs(): string;
  metricsUrl: string;
  healthUrl: string;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startController(cp: ControlPlane, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningController> {
  const store = await mkdtemp(join(tmpdir(), 'plait-ctl-store-'));
  const proc = spawn(process.execPath, [PLAIT_BIN, 'controller', '--kubeconfig', cp.kubeconfig,
    '--metrics-addr', '127.0.0.1:0', '--health-addr', '127.0.0.1:0', '--store', store, ...args], {
    env: { ...process.env, PLAIT_CONTROLLER_BACKOFF_MS: '500', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const started = await waitUntil(() => Promise.resolve(/metrics=(\S+) health=(\S+)/.exec(out) ?? (proc.exitCode !== null ? 'exited' : undefined)), 60_000, () => `controller did not start:\n${out}`);
  if (started === 'exited') throw new Error(`controller exited at start:\n${out}`);
  const [, metrics, health] = started;
  const metricsUrl = `http://${metrics!}/metrics`;
  const healthUrl = `http://${health!}`;
  return {
    proc, metricsUrl, healthUrl, exited,
    logs: () => out,
    async metric(name, labels = {}) {
      const text = await (await fetch(metricsUrl)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const l = m[2] ?? '';
        if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
      }
      return sum;
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Polls fn until it returns something other than undefined/false; throws with message() after ms. */
export async function waitUntil<T>(fn: () => Promise<T | undefined | false>, ms: number, message: () => string, everyMs = 250): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    let v: T | undefined | false;
    let err: unknown;
    try {
      v = await fn();
    } catch (e) {
      err = e;
    }
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`${message()}${err ? `\nlast error: ${(err as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface MlStatus {
  observedGeneration?: number;
  digest?: string;
  instances?: Array<{ digest: string; platform?: string }>;
  conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration?: number }>;
  lastHandledReconcileAt?: string;
  history?: Array<{ digest: string; pushedAt: string }>;
}

export interface MlObject {
  metadata: { name: string; namespace: string; generation: number; resourceVersion: string; finalizers?: string[]; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: MlStatus;
}

export async function kubectlOk(cp: ControlPlane, args: string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The object as the apiserver serves it (what `kubectl get -o json` prints); undefined when it does not exist. */
export async function getMl(cp: ControlPlane, ns: string, name: string): Promise<MlObject | undefined> {
  const r = await cp.get(`/apis/plait.dev/v1alpha1/namespaces/${encodeURIComponent(ns)}/manifestlists/${encodeURIComponent(name)}`);
  if (r?.status !== 200) return undefined;
  return JSON.parse(r.body) as MlObject;
}

export function condition(o: MlObject | undefined, type: string) {
  return o?.status?.conditions?.find((c) => c.type === type);
}
