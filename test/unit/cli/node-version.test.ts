import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlait } from '../../helpers/cli.js';

// The built CLI refuses a Node.js older than package.json's engines with one line, before loading anything that would
// fail on it in its own, unhelpful way (on a real Node 18.20.8 that was "process.getBuiltinModule is not a function"
// under a screen of minified code). The Node here is newer, so a preload makes it report another version to the CLI.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let dir: string;
let preload: string;
let minimum: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-node-version-'));
  preload = join(dir, 'report-version.cjs');
  await writeFile(preload, [
    'const v = process.env.REPORTED_NODE_VERSION;',
    "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: v } });",
    "Object.defineProperty(process, 'version', { value: `v${v}` });", '',
  ].join('\n'));
  const { engines } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const m = /^>=(\d+\.\d+\.\d+)$/.exec(engines.node);
  if (!m) throw new Error(`engines.node is not ">=X.Y.Z": ${engines.node}`);
  minimum = m[1]!;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function plaitOn(version: string, args: string[]) {
  return runPlait(args, { nodeArgs: ['-r', preload], env: { REPORTED_NODE_VERSION: version } });
}

/** The version just below `v` (20.18.1 → 20.18.0, 20.18.0 → 20.17.99, 20.0.0 → 19.99.99). */
function justBelow(v: string): string {
  const [a, b, c] = v.split('.').map(Number) as [number, number, number];
  return c > 0 ? `${a}.${b}.${c - 1}` : b > 0 ? `${a}.${b - 1}.99` : `${a - 1}.99.99`;
}

describe('the Node.js version', () => {
  it('below engines, every command is refused with one line and exit 1', async () => {
    for (const version of [justBelow(minimum), '18.20.8', '20.0.0']) {
      for (const args of [['--version'], ['validate', join(ROOT, 'examples', 'web.yaml')]]) {
        const r = await plaitOn(version, args);
        expect(r.code).toBe(1);
        expect(r.stdout.toString()).toBe('');
        expect(r.stderr).toBe(`plait: needs Node.js ${minimum} or later; this is v${version} (${process.execPath})\n`);
      }
    }
  });

  it('at engines or above, plait runs', async () => {
    for (const version of [minimum, '22.0.0', '24.0.0']) {
      const r = await plaitOn(version, ['--version']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout.toString()).toMatch(/^plait version /);
    }
  });
});
