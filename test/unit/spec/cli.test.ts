// `plait validate` through the built CLI (dist/, built before vitest runs): exit status, stdout and stderr exactly.

import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runPlait } from '../../helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/specs/', import.meta.url));
const INVALID = join(FIXTURES, 'invalid');
const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

const expected = (name: string): string => readFileSync(join(INVALID, `${name}.expected`), 'utf8').trimEnd();

describe('plait validate', () => {
  it('prints the problem of an invalid file on one line to stderr and exits 1', async () => {
    const r = await runPlait(['validate', 'bad-format.yaml'], { cwd: INVALID });
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toBe('');
    expect(r.stderr).toBe(`${expected('bad-format')}\n`);
  });

  it('prints every problem of every file named, in order', async () => {
    // Only one of these is named web: across files a second "web" would be a duplicate name.
    const names = ['zstd-chunked', 'yaml-syntax', 'missing-name', 'bad-name', 'wrong-kind'];
    const r = await runPlait(['validate', ...names.map((n) => `${n}.yaml`)], { cwd: INVALID });
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toBe('');
    expect(r.stderr).toBe(names.map((n) => `${expected(n)}\n`).join(''));
  });

  it('names an unset passphrase variable', async () => {
    // child_process leaves out variables whose value is undefined, whatever the parent has.
    const r = await runPlait(['validate', 'passphrase-env-unset.yaml'], { cwd: INVALID, env: { PLAIT_TEST_UNSET_PASSPHRASE: undefined } });
    expect([r.code, r.stderr]).toEqual([1, `${expected('passphrase-env-unset')}\n`]);
    const set = await runPlait(['validate', 'passphrase-env-unset.yaml'], { cwd: INVALID, env: { PLAIT_TEST_UNSET_PASSPHRASE: 'x' } });
    expect([set.code, set.stdout.toString()]).toEqual([0, '1 spec valid\n']);
  });

  it('prints "N specs valid" and exits 0 for valid specs, from a directory or the current one', async () => {
    const dir = await runPlait(['validate', join(FIXTURES, 'valid')]);
    expect([dir.code, dir.stdout.toString(), dir.stderr]).toEqual([0, '5 specs valid\n', '']);
    const here = await runPlait(['validate'], { cwd: join(FIXTURES, 'valid', 'nested') });
    expect([here.code, here.stdout.toString(), here.stderr]).toEqual([0, '3 specs valid\n', '']);
    const one = await runPlait(['validate', 'valid/minimal.yml'], { cwd: FIXTURES });
    expect([one.code, one.stdout.toString()]).toEqual([0, '1 spec valid\n']);
  });

  it('reads - from stdin', async () => {
    const text = readFileSync(join(INVALID, 'bad-onconflict.yaml'), 'utf8');
    const bad = await runPlait(['validate', '-'], { input: text });
    expect([bad.code, bad.stderr]).toEqual([1, `${expected('bad-onconflict').replace('bad-onconflict.yaml', '<stdin>')}\n`]);
    const good = await runPlait(['validate', '-'], { input: readFileSync(join(FIXTURES, 'valid', 'minimal.yml'), 'utf8') });
    expect([good.code, good.stdout.toString()]).toEqual([0, '1 spec valid\n']);
  });

  it('checks as the controller with --context controller', async () => {
    const r = await runPlait(['validate', '--context', 'controller', 'controller'], { cwd: FIXTURES });
    expect([r.code, r.stdout.toString(), r.stderr]).toEqual([0, '1 spec valid\n', '']);
    const cli = await runPlait(['validate', 'controller'], { cwd: FIXTURES });
    expect(cli.code).toBe(1);
    expect(cli.stderr.trimEnd().split('\n')).toHaveLength(3);
    const bad = await runPlait(['validate', '--context', 'cluster']);
    expect([bad.code, bad.stderr]).toEqual([1, 'plait: validate: --context takes cli or controller, not "cluster"\n']);
  });

  it('reports a path that does not exist', async () => {
    const r = await runPlait(['validate', 'nope.yaml'], { cwd: FIXTURES });
    expect([r.code, r.stderr]).toEqual([1, 'nope.yaml: no such file or directory\n']);
  });

  it('has help', async () => {
    const r = await runPlait(['validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^Usage: plait validate \[flags\] \[PATH…\]/);
  });
});

describe('plait validate start-up', () => {
  // The command must not pull in the registry client, the store or the controller: follow the static imports.
  it('imports neither transports, core nor controller', () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s(?!type\b)[^;]*?from\s+'(\.[^']+)\.js'/gm)) {
        visit(resolve(dirname(file), `${m[1] ?? ''}.ts`));
      }
    };
    visit(join(SRC, 'cli', 'commands', 'validate.ts'));
    const modules = [...seen].map((f) => f.slice(SRC.length)).sort();
    expect(modules.filter((m) => /^(transports|core|controller)\//.test(m))).toEqual([]);
    expect(modules).toContain('reconcile/spec/validate.ts');
    expect(readdirSync(join(SRC, 'reconcile', 'spec')).length).toBeGreaterThan(0);
  });
});
