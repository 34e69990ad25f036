// What the CLI does with inputs that are not plain specs: oversized files and stdin, alias bombs, annotations a
// registry would refuse once pushed, and directories shared with other Kubernetes YAML. Big files are made here, in a
// temporary directory, never committed.

import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlait } from '../../helpers/cli.js';

const SPEC = (name: string, annotations = ''): string => `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${name}
spec:
  destination:
    image: oci:out/${name}
    tags: [v1]
  sources:
    - image: oci:build/${name}:amd64
${annotations}`;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template: {spec: {containers: [{name: web, image: example/web}]}}
`;
const KUSTOMIZATION = 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy.yaml]\n';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-inputs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const store = (cmd: string): string[] => (cmd === 'validate' ? [] : ['--store', join(dir, 'store')]);

/** A spec padded with an annotation to `bytes` bytes in all. */
function padded(name: string, bytes: number): string {
  const head = SPEC(name, '  annotations:\n    pad: "');
  return `${head}${'x'.repeat(bytes - head.length - 2)}"\n`;
}

describe('oversized inputs', () => {
  it('refuses a spec file over 1 MiB on its size, in one line', async () => {
    await writeFile(join(dir, 'big.yaml'), padded('big', 2 * 1024 * 1024));
    const r = await runPlait(['validate', 'big.yaml'], { cwd: dir });
    expect([r.code, r.stdout.toString(), r.stderr]).toEqual([1, '', 'big.yaml: is 2097152 bytes, more than a spec file may hold (1 MiB); refused unread\n']);
  });

  it('refuses a 200 MiB file found in a directory without reading it', async () => {
    const sub = join(dir, 'huge');
    await rm(sub, { recursive: true, force: true });
    await mkdir(sub);
    await writeFile(join(sub, 'ok.yaml'), SPEC('ok'));
    // Sparse: 200 MiB on its size, no disk space.
    const fh = await open(join(sub, 'huge.yaml'), 'w');
    await fh.write(SPEC('huge', '  annotations:\n    pad: "'));
    await fh.truncate(200 * 1024 * 1024);
    await fh.close();
    for (const cmd of ['validate', 'plan']) {
      const r = await runPlait([cmd, ...store(cmd), 'huge'], { cwd: dir });
      expect([cmd, r.code, r.stdout.toString(), r.stderr]).toEqual([cmd, 1, '', `huge/huge.yaml: is ${200 * 1024 * 1024} bytes, more than a spec file may hold (1 MiB); refused unread\n`]);
    }
  });

  it('refuses standard input past 1 MiB', async () => {
    const r = await runPlait(['validate', '-'], { input: padded('stdin', 3 * 1024 * 1024) });
    expect([r.code, r.stdout.toString(), r.stderr]).toEqual([1, '', 'plait: <stdin>: more than a spec file may hold (1 MiB); refused\n']);
  });

  it('refuses a YAML alias bomb in one line', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const [p, c] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
      levels.push(`${c}: &${c} [${Array(9).fill(`*${p}`).join(',')}]`);
    }
    await writeFile(join(dir, 'bomb.yaml'), `${SPEC('bomb')}${levels.join('\n')}\n`);
    const r = await runPlait(['validate', 'bomb.yaml'], { cwd: dir });
    expect([r.code, r.stdout.toString()]).toEqual([1, '']);
    expect(r.stderr).toMatch(/^bomb\.yaml:1:1: YAML error: Excessive alias count indicates a resource exhaustion attack\n$/);
  });

  it('refuses annotations apply could not push (validate accepts nothing apply refuses)', async () => {
    await writeFile(join(dir, 'annotated.yaml'), padded('annotated', 100 * 1024));
    const r = await runPlait(['validate', 'annotated.yaml'], { cwd: dir });
    expect([r.code, r.stdout.toString()]).toEqual([1, '']);
    expect(r.stderr).toMatch(/^annotated\.yaml:11:3: spec\.annotations: annotations take \d+ bytes in all, more than the 64 KiB a spec may carry \(a pushed list must stay under 4 MiB\)\n$/);
    // Source annotations are repeated on every instance: many annotated sources make a list too big to push.
    const sources = Array.from({ length: 10 }, (_, i) => `    - image: oci:build/s:${i}\n      annotations: {a: "${'y'.repeat(6000)}"}`).join('\n');
    await writeFile(join(dir, 'many.yaml'), `${SPEC('many').replace(/ {2}sources:\n.*\n$/, `  sources:\n${sources}\n`)}`);
    const many = await runPlait(['validate', 'many.yaml'], { cwd: dir });
    expect([many.code, many.stdout.toString()]).toEqual([0, '1 spec valid\n']);
  });
});

describe('directories shared with other Kubernetes YAML', () => {
  it('skips objects of other APIs, says so, and still checks plait.dev objects of the wrong kind', async () => {
    const shared = await mkdtemp(join(dir, 'shared-'));
    await writeFile(join(shared, 'deploy.yaml'), `${DEPLOYMENT}---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n`);
    await writeFile(join(shared, 'kustomization.yaml'), KUSTOMIZATION);
    await writeFile(join(shared, 'web.yaml'), SPEC('web'));
    const r = await runPlait(['validate', shared]);
    expect([r.code, r.stdout.toString()]).toEqual([0, '1 spec valid\n']);
    expect(r.stderr).toBe(`skipped 3 objects of other APIs: ${shared}/deploy.yaml:1 (Deployment apps/v1), ${shared}/deploy.yaml:8 (Service v1), ${shared}/kustomization.yaml:1 (Kustomization kustomize.config.k8s.io/v1beta1)\n`);

    await writeFile(join(shared, 'other.yaml'), 'apiVersion: plait.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: p}\n');
    const wrong = await runPlait(['validate', join(shared, 'other.yaml')]);
    expect([wrong.code, wrong.stderr]).toEqual([1, `${shared}/other.yaml:2:7: kind: must be ManifestList, not "ImagePolicy"\n`]);
  });

  it('makes a path without any ManifestList an error, for validate, plan and apply', async () => {
    const none = await mkdtemp(join(dir, 'none-'));
    await writeFile(join(none, 'deploy.yaml'), DEPLOYMENT);
    await writeFile(join(dir, 'empty.yaml'), '# nothing here yet\n');
    for (const cmd of ['validate', 'plan', 'apply']) {
      const r = await runPlait([cmd, ...store(cmd), none], { cwd: dir });
      expect([cmd, r.code, r.stdout.toString(), r.stderr]).toEqual([
        cmd, 1, '', `skipped 1 object of other APIs: ${none}/deploy.yaml:1 (Deployment apps/v1)\n${none}: no ManifestList documents (1 object of other APIs skipped)\n`,
      ]);
      const empty = await runPlait([cmd, ...store(cmd), 'empty.yaml'], { cwd: dir });
      expect([cmd, empty.code, empty.stdout.toString(), empty.stderr]).toEqual([cmd, 1, '', 'empty.yaml: no ManifestList documents\n']);
    }
    const stdin = await runPlait(['validate', '-'], { input: '' });
    expect([stdin.code, stdin.stderr]).toEqual([1, '<stdin>: no ManifestList documents\n']);
  });
});
