import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, stat, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { openImage, closeAllClients } from '../../src/transports/index.js';
import { generateLayout } from '../lab/fixtures/generate.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { PLAIT_BIN, runPlait } from '../helpers/cli.js';

// Ctrl-C / SIGTERM in the middle of a large upload: the command stops, cancels the registry's upload session, says in
// one line what was and was not written, exits 128+signal, and a re-run completes. The registry is the witness: its
// access log (the DELETE), its storage (no session left) and the upload URL (404 afterwards).

const lab = inject('lab');
const LAYER = 256 * 1024 * 1024 + 4096;
let dir: string;
let layout: string;
let ref: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-interrupt-'));
  layout = join(dir, 'layout');
  // Uncompressed zeros: cheap to make, and 256 MiB on the wire all the same.
  const r = await generateLayout({ dir: layout, tag: 'big', gzipLevel: -1,
    images: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: 1, layerSize: LAYER, data: 'zero' }] });
  ref = r.images[0]!.ref!;
});

afterAll(async () => {
  await closeAllClients();
  await rm(dir, { recursive: true, force: true });
});

const uploadsDir = (repo: string) => join(lab.plain.dataDir, 'docker', 'registry', 'v2', 'repositories', repo, '_uploads');

interface Session { id: string; bytes: number }

/** Upload sessions in the registry's storage for `repo`, with the bytes each has received so far. */
async function openSessions(repo: string): Promise<Session[]> {
  const ids = await readdir(uploadsDir(repo)).catch(() => [] as string[]);
  return Promise.all(ids.map(async (id) => ({ id, bytes: (await stat(join(uploadsDir(repo), id, 'data')).catch(() => ({ size: 0 }))).size })));
}

/** Run plait, and send `signal` once the registry has received part (not all) of the big layer for `repo`. */
async function interruptMidUpload(args: string[], repo: string, signal: 'SIGINT' | 'SIGTERM', env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [PLAIT_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let done = false;
  void exited.then(() => { done = true; });
  let seen: Session[] = [];
  while (!done) {
    seen = (await openSessions(repo)).filter((s) => s.bytes > 1024 * 1024 && s.bytes < LAYER);
    if (seen.length > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (done) throw new Error(`plait ended before the upload was under way: ${stderr}`);
  child.kill(signal);
  return { code: await exited, stderr, session: seen[0]!.id };
}

describe('interrupting a push', () => {
  it('SIGINT during manifest push: upload cancelled, one line, exit 130; a re-run completes', async () => {
    const store = join(dir, 'store-push');
    const repo = 'lab/interrupt-push';
    const dest = `docker://${lab.plain.host}/${repo}:v1`;
    const created = await runPlait(['manifest', 'create', '--store', store, 'big', `oci:${layout}:${ref}`]);
    expect(created.stderr).toBe('');
    const mark = await logMark(lab.plain.accessLog);

    const r = await interruptMidUpload(['manifest', 'push', '--store', store, '--plain-http', 'big', dest], repo, 'SIGINT');
    expect(r.code).toBe(130);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // The big layer's session and any other still open (the config's may be) are cancelled.
    expect(r.stderr).toMatch(/^plait: interrupted by SIGINT: .*; \d+ open uploads? cancelled; no tag was moved; re-run to resume\n$/);
    expect(r.stderr).not.toContain('manifest written');

    // The registry saw the session cancelled, and its upload URL is gone. (distribution 2.8 keeps the files a PUT that
    // died half-way had written until its upload purge; it no longer accepts the session.)
    const entries = await entriesSince(lab.plain.accessLog, mark);
    const deletes = entries.filter((e) => e.method === 'DELETE' && e.path.startsWith(`/v2/${repo}/blobs/uploads/${r.session}`));
    expect(deletes).toHaveLength(1);
    const probe = await request(`http://${lab.plain.host}${deletes[0]!.path}`);
    await probe.body.dump();
    expect(probe.statusCode).toBe(404);
    expect(await openImage(dest, { plainHttp: true }).resolve()).toBeUndefined();

    const again = await runPlait(['manifest', 'push', '--store', store, '--plain-http', 'big', dest]);
    expect(again.stderr).toMatch(/^Writing manifest list to /);
    expect(again.code).toBe(0);
    expect((await openImage(dest, { plainHttp: true }).resolve())?.digest).toMatch(/^sha256:/);
  });

  it('SIGTERM during apply: exit 143, nothing tagged, and the next apply pushes', async () => {
    const repo = 'lab/interrupt-apply';
    const spec = join(dir, 'ml.yaml');
    await writeFile(spec, `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: interrupt-apply
spec:
  destination:
    image: ${lab.plain.host}/${repo}
    tags: [v1]
  sources:
    - image: oci:${layout}:${ref}
`);
    const store = join(dir, 'store-apply');
    const mark = await logMark(lab.plain.accessLog);
    const r = await interruptMidUpload(['apply', '--store', store, '--dest-plain-http', spec], repo, 'SIGTERM');
    expect(r.code).toBe(143);
    // Progress lines may come before it; the summary is the last line.
    expect(`${r.stderr.trim().split('\n').at(-1)}\n`).toMatch(/^plait: interrupted by SIGTERM: .*; \d+ open uploads? cancelled; no tag was moved; re-run to resume\n$/);
    const entries = await entriesSince(lab.plain.accessLog, mark);
    const deletes = entries.filter((e) => e.method === 'DELETE' && e.path.includes(`/blobs/uploads/${r.session}`));
    expect(deletes).toHaveLength(1);
    const probe = await request(`http://${lab.plain.host}${deletes[0]!.path}`);
    await probe.body.dump();
    expect(probe.statusCode).toBe(404);
    expect(entries.filter((e) => e.method === 'PUT' && e.path.includes('/manifests/'))).toEqual([]);

    const again = await runPlait(['apply', '--store', store, '--dest-plain-http', spec]);
    expect(again.code).toBe(0);
    expect(again.stdout.toString()).toContain('pushed');
    expect((await openImage(`docker://${lab.plain.host}/${repo}:v1`, { plainHttp: true }).resolve())?.digest).toMatch(/^sha256:/);
  });
});
