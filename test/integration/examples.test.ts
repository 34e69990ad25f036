import { describe, it, expect } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../lab/proc.js';
import { runPlait } from '../helpers/cli.js';

// Every example is a complete, valid document, and together they reconcile into OCI layouts with no registry —
// the README's main job, minus its npm ci.

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('examples', () => {
  it('build, validate, apply, then plan --exit-code answers 0', async () => {
    await run(process.execPath, ['--import', 'tsx', join(root, 'examples', 'build-sources.ts')], { cwd: root });
    const v = await runPlait(['validate', 'examples/'], { cwd: root });
    expect(v.stderr).toBe('');
    expect(v.stdout.toString()).toMatch(/^\d+ specs valid\n$/);
    const store = await mkdtemp(join(tmpdir(), 'plait-examples-'));
    const a = await runPlait(['apply', '--store', store, 'examples/'], { cwd: root });
    expect(a.code).toBe(0);
    const p = await runPlait(['plan', '--exit-code', '--store', store, 'examples/'], { cwd: root });
    expect(p.code).toBe(0);
    expect(p.stderr).toMatch(/in sync/);
  });
});
