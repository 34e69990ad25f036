import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLayout } from '../lab/fixtures/generate.js';
import { PLAIT_BIN, runPlait } from '../helpers/cli.js';

// What `plait apply` shows while it pushes a multi-platform list to the lab registry: under a real pseudo-terminal
// (util-linux `script`) live lines with the phase, bytes done/total, a rate and correct plurals; through a pipe and
// with --log-format json, plain lines without a carriage return or an escape sequence.

const lab = inject('lab');
const R = lab.plain.host;
let dir = '';
let source = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-progress-'));
  // Two platforms, two 6 MiB layers each, in an OCI layout: every byte must really move to the registry.
  const layout = await generateLayout({
    dir: join(dir, 'layout'), tag: 'multi', index: true, seed: 'progress',
    images: ['amd64', 'arm64'].map((architecture) => ({ platform: { os: 'linux', architecture }, layers: 2, layerSize: 6 * 1024 * 1024, data: 'random' as const })),
  });
  source = `oci:${layout.dir}:${layout.index!.ref}`;
});

afterAll(() => rm(dir, { recursive: true, force: true }));

async function specFile(name: string, extra = ''): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${name}
spec:
  destination:
    image: ${R}/progress/${name}
    tags: [v1]
  sources:
    - image: ${source}
${extra}`);
  return file;
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run `plait args…` on a pseudo-terminal (stdout and stderr both the terminal) and return what it painted. */
function underPty(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; screen: string }> {
  const cmd = `stty cols 160 rows 40; exec ${[process.execPath, PLAIT_BIN, ...args].map(sh).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen: Buffer.concat(out).toString('utf8') }));
  });
}

const ESC = '\x1b';
/** Carriage returns and escape characters in `s`, with where they are. */
const controls = (s: string) => [...s].flatMap((c, i) => (c === '\r' || c === ESC ? [`${JSON.stringify(c)}@${i}`] : []));
const SIZE = String.raw`\d+(\.\d)? (B|KiB|MiB|GiB)`;

describe('apply progress', () => {
  it('on a terminal: live lines with phase, bytes done/total and a rate, repainted in place; plurals right', async () => {
    const file = await specFile('tty');
    const { code, screen } = await underPty(['apply', '--plain-http', file], { PLAIT_STORE: join(dir, 'store-tty') });
    expect(code, screen).toBe(0);
    expect(screen).toContain(`${ESC}[K`);
    const lines = screen.split(`${ESC}[K`).flatMap((l) => l.split(/\r?\n|\r/));
    const live = lines.filter((l) => l.startsWith('tty: '));
    // The copy phase and the list push are shown, with done/total and a rate; once the copy is over all of it is done.
    expect(live.some((l) => new RegExp(`^tty: copy ${SIZE}/${SIZE} (${SIZE}/s|-/s), \\d+ manifests?$`).test(l)), screen).toBe(true);
    const listLine = live.find((l) => l.startsWith('tty: push list '));
    expect(listLine, screen).toMatch(new RegExp(`^tty: push list (${SIZE})/\\1 ${SIZE}/s, 2 manifests$`));
    expect(listLine).toContain('24.0 MiB/24.0 MiB');
    expect(screen).not.toMatch(/\b1 manifests\b/);
    expect(screen).toMatch(/tty: pushed sha256:[0-9a-f]{64} \(\d+ ms, 24\.0 MiB\/24\.0 MiB, 2 manifests\)/);
  });

  it('on a terminal: the recompress and sign phases of a push with zstd variants and a sigstore signer', async () => {
    const pass = 'progress passphrase';
    await writeFile(join(dir, 'pass'), `${pass}\n`);
    const keys = await runPlait(['key', 'generate', '--prefix', join(dir, 'cosign')], { env: { PLAIT_PASSPHRASE: pass } });
    expect(keys.code, keys.stderr).toBe(0);
    const file = await specFile('phases', `  compression: {variants: [zstd]}
  signatures:
    sigstore:
      - privateKey: {file: cosign.key}
        passphrase: {file: pass}
`);
    const { code, screen } = await underPty(['apply', '--plain-http', file], { PLAIT_STORE: join(dir, 'store-phases') });
    expect(code, screen).toBe(0);
    const live = screen.split(`${ESC}[K`).flatMap((l) => l.split(/\r?\n|\r/)).filter((l) => l.startsWith('phases: '));
    const phases = [...new Set(live.map((l) => /^phases: (copy|recompress|push list|sign) /.exec(l)?.[1]).filter((x) => x !== undefined))];
    expect(phases, screen).toEqual(['copy', 'recompress', 'push list', 'sign']);
    // By the list push every byte of the sources and of the recompressed layers is done, and four instance
    // manifests (two copied, two zstd variants) are written.
    expect(live.find((l) => l.startsWith('phases: push list ')), screen).toMatch(new RegExp(`^phases: push list (${SIZE})/\\1 ${SIZE}/s, 4 manifests$`));
  });

  it('through a pipe and as JSON lines: one plain line per event, no carriage return, no escape sequence', async () => {
    const plain = await runPlait(['apply', '--plain-http', await specFile('pipe')], { env: { PLAIT_STORE: join(dir, 'store-pipe') } });
    expect(plain.code, plain.stderr).toBe(0);
    expect(controls(plain.stderr)).toEqual([]);
    expect(controls(plain.stdout.toString())).toEqual([]);
    const lines = plain.stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('pipe: copy '))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('pipe: push list '))).toHaveLength(1);
    expect(lines.filter((l) => /^pipe: pushed sha256:[0-9a-f]{64} \(\d+ ms, /.test(l))).toHaveLength(1);

    // JSON logs stay plain even on a terminal (the terminal itself turns \n into \r\n; nothing else may appear).
    const json = await underPty(['apply', '--plain-http', '--log-format', 'json', await specFile('json')], { PLAIT_STORE: join(dir, 'store-json') });
    expect(json.code, json.screen).toBe(0);
    const screen = json.screen.replace(/\r\n/g, '\n');
    expect(controls(screen)).toEqual([]);
    const events = screen.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; kind?: string; phase?: string });
    expect(events.filter((e) => e.kind === 'phase').map((e) => e.phase)).toEqual(['copy', 'push list']);
    expect(events.filter((e) => e.kind === 'bytes')).toEqual([]);
  });
});
