// Help and shell completion, generated from the flag tables the commands parse with: every command and subcommand
// answers -h/--help (exit 0, stdout) naming every flag it takes; `plait help CMD [SUB]` is the same text; the
// completion scripts for bash, zsh and fish offer exactly those flags (bash and fish run for real here).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../../src/cli/commands/index.js';
import { completionModel } from '../../../src/cli/completion.js';
import type { CompletionNode } from '../../../src/cli/completion.js';
import { run } from '../../../src/cli/run.js';
import { runPlait } from '../../helpers/cli.js';

let model: CompletionNode[];
let dir: string;
beforeAll(async () => {
  model = await completionModel();
  dir = await mkdtemp(join(tmpdir(), 'plait-help-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every command path with its flag table: [['apply'], …, ['manifest', 'add'], …]. */
function paths(): { path: string[]; node: CompletionNode }[] {
  return model.filter((c) => c.name !== 'help').flatMap((c) => [{ path: [c.name], node: c }, ...(c.subcommands ?? []).map((s) => ({ path: [c.name, s.name], node: s }))]);
}

/** run() with stdout captured: [exit code, stdout]. */
async function inProcess(argv: string[]): Promise<[number, string]> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (c: string | Uint8Array) => chunks.push(String(c)) > 0;
  try {
    return [await run(argv), chunks.join('')];
  } finally {
    process.stdout.write = write;
  }
}

const longFlags = (node: CompletionNode): string[] => Object.keys(node.flags).map((f) => `--${f}`).sort();

describe('help', () => {
  it('lists every registered command in plait --help', async () => {
    const r = await runPlait(['--help']);
    expect(r.code).toBe(0);
    for (const c of model) expect(r.stdout.toString()).toContain(`\n  ${c.name} `);
  });

  it('answers --help and -h on every command and subcommand, exit 0 on stdout, with usage, summary and every flag explained', async () => {
    expect(paths().length).toBeGreaterThan(15);
    for (const { path, node } of paths()) {
      let out: string;
      {
        const r = await runPlait([...path, '--help']);
        out = r.stdout.toString();
        expect([path.join(' '), r.code, r.stderr]).toEqual([path.join(' '), 0, '']);
        expect(out.startsWith(`Usage: plait ${path.join(' ')}`)).toBe(true);
        for (const [name, def] of Object.entries(node.flags)) {
          expect(def.help, `${path.join(' ')} --${name} has no help text`).toMatch(/\S/);
          expect(out, `${path.join(' ')} --help does not mention --${name}`).toMatch(new RegExp(`--${name}\\b[^\\n]*(?:\\n +)?${def.help!.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        }
      }
      // In this process (one spawn per command is enough): -h and `plait help PATH` print the same text.
      expect(await inProcess([...path, '-h'])).toEqual([0, out]);
      expect(await inProcess(['help', ...path])).toEqual([0, out]);
    }
  }, 600_000);

  it('explains rollback --to, and gives manifest add its own help rather than the overview', async () => {
    const rollback = await runPlait(['rollback', '--help']);
    expect(rollback.stdout.toString()).toMatch(/--to DIGEST +the push to go back to/);
    const add = (await runPlait(['manifest', 'add', '--help'])).stdout.toString();
    const overview = (await runPlait(['manifest', '--help'])).stdout.toString();
    expect(add).toMatch(/^Usage: plait manifest add \[flags\] LIST IMAGE\n/);
    expect(add).toContain('--os-features');
    expect(overview).toMatch(/^Usage: plait manifest <command>/);
    expect(overview).not.toContain('--os-features');
  });

  it('still refuses an unknown command or flag in one line, exit 1', async () => {
    expect(await runPlait(['help', 'nope'])).toMatchObject({ code: 1, stderr: 'plait: unknown command "nope" (see plait --help)\n' });
    const r = await runPlait(['history', '--nope']);
    expect([r.code, r.stderr.split('\n').length]).toEqual([1, 2]);
    expect(await runPlait(['completion', 'tcsh'])).toMatchObject({ code: 1, stderr: 'plait: completion: name one shell: bash, zsh or fish, not "tcsh"\n' });
  });
});

describe('completion', () => {
  it('bash: complete -p names the function, which offers the commands, subcommands and every flag of each', async () => {
    const script = join(dir, 'plait.bash');
    const gen = await runPlait(['completion', 'bash']);
    expect(gen.code).toBe(0);
    await writeFile(script, gen.stdout);
    const probe = (words: string[]): string => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _plait; echo "\${COMPREPLY[*]}"`;
    const all = paths();
    const lines = ['complete -p plait', probe(['plait', '']), probe(['plait', 'manifest', '']), ...all.map(({ path }) => probe(['plait', ...path, '--']))];
    const out = execFileSync('bash', ['--norc', '-c', `source ${script}\n${lines.join('\n')}`], { encoding: 'utf8' }).split('\n');
    expect(out[0]).toBe('complete -o filenames -F _plait plait');
    expect(out[1]!.split(' ')).toEqual(model.map((c) => c.name));
    expect(out[2]!.split(' ')).toEqual(model.find((c) => c.name === 'manifest')!.subcommands!.map((s) => s.name));
    all.forEach(({ path, node }, i) => {
      expect([path.join(' '), out[3 + i]!.split(' ').sort()]).toEqual([path.join(' '), longFlags(node)]);
    });
    // A flag's value is not taken for a command: after --store DIR the subcommands are still offered.
    const after = execFileSync('bash', ['--norc', '-c', `source ${script}\n${probe(['plait', 'manifest', '--store', '/tmp/s', ''])}`], { encoding: 'utf8' });
    expect(after.trim().split(' ')).toContain('push');
  });

  it('fish: complete -C offers every flag of every command and subcommand', async () => {
    const script = join(dir, 'plait.fish');
    await writeFile(script, (await runPlait(['completion', 'fish'])).stdout);
    expect(spawnSync('fish', ['-n', script]).status).toBe(0);
    const all = paths();
    const cmds = all.map(({ path }) => `complete -C 'plait ${path.join(' ')} --'; echo '@@'`).join('\n');
    const out = execFileSync('fish', ['--no-config', '-c', `source ${script}\n${cmds}`], { encoding: 'utf8' }).split('@@\n');
    all.forEach(({ path, node }, i) => {
      const offered = out[i]!.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!).sort();
      expect([path.join(' '), offered]).toEqual([path.join(' '), longFlags(node)]);
    });
  });

  it('zsh: the script is valid zsh and names every flag', async () => {
    const script = join(dir, '_plait');
    const text = (await runPlait(['completion', 'zsh'])).stdout.toString();
    await writeFile(script, text);
    const check = spawnSync('zsh', ['-n', script], { encoding: 'utf8' });
    expect([check.status, check.stderr]).toEqual([0, '']);
    for (const { node } of paths()) for (const f of longFlags(node)) expect(text).toContain(`'${f}:`);
  });
});
