import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane } from '../lab/kube.js';
import type { ControlPlane } from '../lab/kube.js';

// The lab's control plane itself: a real etcd + kube-apiserver that enforces RBAC, issues ServiceAccount tokens,
// keeps its objects across an apiserver restart and leaves no process behind.

const execFileP = promisify(execFile);

/** pids of processes whose command line mentions the control plane's temp dir (pgrep -f on that exact path). */
async function processesUnder(dir: string): Promise<string[]> {
  try {
    const { stdout } = await execFileP('pgrep', ['-f', dir]);
    return stdout.split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('lab control plane (etcd + kube-apiserver)', () => {
  let cp: ControlPlane;
  let stopped = false;
  let robotKubeconfig = '';

  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    if (!stopped) await cp?.stop();
  });

  it('serves the Kubernetes API to the admin kubeconfig', async () => {
    expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const v = await cp.kubectl(['version', '-o', 'json']);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    const version = JSON.parse(v.stdout) as { serverVersion: { gitVersion: string }; clientVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(version.clientVersion.gitVersion).toBe(version.serverVersion.gitVersion);
    const who = await cp.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username} {.status.userInfo.groups}']);
    expect(who.code).toBe(0);
    expect(who.stdout).toContain('admin');
    expect(who.stdout).toContain('system:masters');
    expect(await readFile(cp.caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('issues ServiceAccount tokens and enforces RBAC for them', async () => {
    expect((await cp.kubectl(['create', 'namespace', 'lab-smoke'])).code).toBe(0);
    expect((await cp.kubectl(['-n', 'lab-smoke', 'create', 'serviceaccount', 'robot'])).code).toBe(0);
    const tok = await cp.kubectl(['-n', 'lab-smoke', 'create', 'token', 'robot', '--duration=10m']);
    expect(tok.code).toBe(0);
    const token = tok.stdout.trim();
    expect(token.split('.')).toHaveLength(3); // a signed JWT
    const kc = await cp.kubeconfigForToken(token, 'robot');
    robotKubeconfig = kc;

    const who = await cp.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: kc });
    expect(who.stdout).toBe('system:serviceaccount:lab-smoke:robot');

    // No rights yet: RBAC says no (kubectl auth can-i exits 1 with "no").
    const before = await cp.kubectl(['-n', 'lab-smoke', 'auth', 'can-i', 'list', 'configmaps'], { kubeconfig: kc });
    expect(before.stdout.trim()).toBe('no');
    expect(before.code).toBe(1);
    const denied = await cp.kubectl(['-n', 'lab-smoke', 'get', 'configmaps'], { kubeconfig: kc });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('forbidden');

    // A Role and its binding grant exactly that, in that namespace only.
    expect((await cp.kubectl(['-n', 'lab-smoke', 'create', 'role', 'cm-reader', '--verb=get,list', '--resource=configmaps'])).code).toBe(0);
    expect((await cp.kubectl(['-n', 'lab-smoke', 'create', 'rolebinding', 'robot-cm', '--role=cm-reader', '--serviceaccount=lab-smoke:robot'])).code).toBe(0);
    const after = await cp.kubectl(['-n', 'lab-smoke', 'auth', 'can-i', 'list', 'configmaps'], { kubeconfig: kc });
    expect(after.stdout.trim()).toBe('yes');
    const elsewhere = await cp.kubectl(['-n', 'default', 'auth', 'can-i', 'list', 'configmaps'], { kubeconfig: kc });
    expect(elsewhere.stdout.trim()).toBe('no');
    const write = await cp.kubectl(['-n', 'lab-smoke', 'auth', 'can-i', 'create', 'configmaps'], { kubeconfig: kc });
    expect(write.stdout.trim()).toBe('no');
  });

  it('keeps its objects across an apiserver restart on the same port', async () => {
    const cm = await cp.kubectl(['-n', 'lab-smoke', 'create', 'configmap', 'survivor', '--from-literal=k=v']);
    expect(cm.code).toBe(0);
    const server = cp.server;
    await cp.restartApiserver();
    expect(cp.server).toBe(server);
    const got = await cp.kubectl(['-n', 'lab-smoke', 'get', 'configmap', 'survivor', '-o', 'jsonpath={.data.k}']);
    expect(got.stderr).toBe('');
    expect(got.stdout).toBe('v');
    // Same service-account keys: a token issued before the restart still authenticates, and its RBAC still holds.
    const can = await cp.kubectl(['-n', 'lab-smoke', 'auth', 'can-i', 'list', 'configmaps'], { kubeconfig: robotKubeconfig });
    expect(can.stdout.trim()).toBe('yes');
  });

  it('stops without leaving a process or its directory behind', async () => {
    const dir = cp.dir;
    expect(await processesUnder(dir)).not.toEqual([]); // etcd and kube-apiserver name files under dir
    await cp.stop();
    stopped = true;
    expect(await processesUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
