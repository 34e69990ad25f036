// Every fixture under test/fixtures/specs: each invalid file gives exactly the one line in its .expected sibling,
// every valid file loads with the schema's defaults applied.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpecs } from '../../../src/reconcile/spec/index.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/specs/', import.meta.url));
const INVALID = join(FIXTURES, 'invalid');
const VALID = join(FIXTURES, 'valid');

const invalid = readdirSync(INVALID)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

// FILE:LINE:COL: PATH: message, PATH absent for YAML syntax errors.
const LINE = /^([^:]+):(\d+):(\d+): (?:((?:[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*|\["[^"]*"\])+): )?(.+)$/;

describe('invalid fixtures', () => {
  it('has at least 30 cases, each with its .expected line', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(30);
    for (const f of invalid) expect(readdirSync(INVALID)).toContain(f.replace(/\.yaml$/, '.expected'));
  });

  it.each(invalid)('%s yields exactly its expected line', async (file) => {
    const expected = readFileSync(join(INVALID, file.replace(/\.yaml$/, '.expected')), 'utf8').trimEnd();
    expect(expected.split('\n')).toHaveLength(1);
    const { specs, problems } = await loadSpecs([file], { context: 'cli', cwd: INVALID, env: {} });
    expect(problems.map(String)).toEqual([expected]);
    const m = LINE.exec(expected);
    expect(m, `expected line has the FILE:LINE:COL: PATH: message shape: ${expected}`).not.toBeNull();
    const [, f, line, col, path, message] = m ?? [];
    const p = problems[0]!;
    expect(p.file).toBe(f);
    expect(p.line).toBe(Number(line));
    expect(p.col).toBe(Number(col));
    expect(p.path).toBe(path ?? '');
    expect(p.message).toBe(message);
    // A file whose only document is wrong yields no spec; the duplicate-name file keeps its first document.
    expect(specs.map((s) => s.name)).toEqual(file === 'duplicate-name.yaml' ? ['web'] : []);
  });

  it('reports every invalid file in one run, in the order named', async () => {
    const { specs, problems } = await loadSpecs(invalid, { context: 'cli', cwd: INVALID, env: {} });
    expect(specs).toEqual([]);
    // Most fixtures are named web, so across files every later "web" is also a duplicate of the first one.
    const duplicates = problems.filter((p) => p.message === 'duplicate name "web" (also at bad-deletion-policy.yaml:4:9)');
    const own = problems.filter((p) => !duplicates.includes(p));
    expect([...new Set(own.map((p) => p.file))]).toEqual(invalid.filter((f) => f !== 'duplicate-name.yaml'));
    for (const p of own) {
      expect(String(p)).toBe(readFileSync(join(INVALID, p.file.replace(/\.yaml$/, '.expected')), 'utf8').trimEnd());
    }
    expect(duplicates.length).toBeGreaterThan(30);
  });
});

describe('valid fixtures', () => {
  it('loads every document of the directory tree with defaults applied', async () => {
    const { specs, problems } = await loadSpecs([VALID], { context: 'cli' });
    expect(problems.map(String)).toEqual([]);
    expect(specs.map((s) => [s.file.slice(VALID.length + 1), s.index, s.name])).toEqual([
      ['minimal.yml', 0, 'minimal'],
      ['nested/deeper/pinned.yaml', 0, 'pinned'],
      ['nested/multi.yaml', 0, 'base.debian'],
      ['nested/multi.yaml', 2, 'windows'],
      ['web.yaml', 0, 'web'],
    ]);
    const minimal = specs[0]!;
    expect(minimal.doc.spec).toEqual({
      destination: { image: 'oci:out/minimal', tags: ['v1'] },
      sources: [{ image: 'oci:build/minimal:amd64' }],
      format: 'oci',
      onConflict: 'replace',
      prune: true,
      interval: '10m',
      suspend: false,
      deletionPolicy: 'Orphan',
      historyLimit: 10,
      timeout: '5m',
    });
    // The document as written is kept apart, untouched.
    expect(minimal.raw.spec.format).toBeUndefined();
    const pinned = specs[1]!;
    expect(pinned.doc.spec.compression).toEqual({ variants: ['gzip', 'zstd'], level: 6, force: false });
    expect(pinned.doc.spec.interval).toBe('45s');
    const debian = specs[2]!;
    expect(debian.doc.spec.format).toBe('docker');
    expect(debian.doc.spec.historyLimit).toBe(25);
    expect(debian.doc.metadata.namespace).toBe('images');
    const web = specs[4]!;
    expect(web.doc.spec.signatures?.removeSource).toBe(false);
    expect(web.baseDir).toBe(VALID);
  });

  it('accepts the controller fixture only in the controller context', async () => {
    const controller = await loadSpecs(['controller/web.yaml'], { context: 'controller', cwd: FIXTURES });
    expect(controller.problems.map(String)).toEqual([]);
    expect(controller.specs[0]?.doc.spec.deletionPolicy).toBe('Delete');
    expect(controller.specs[0]?.doc.status?.conditions?.[0]?.reason).toBe('Pushed');
    const cli = await loadSpecs(['controller/web.yaml'], { context: 'cli', cwd: FIXTURES });
    expect(cli.problems.map((p) => `${p.line}:${p.col} ${p.path}`)).toEqual([
      '20:22 spec.signatures.sigstore[0].privateKey.secretRef',
      '21:22 spec.signatures.sigstore[0].passphrase.secretRef',
      '22:3 spec.secretRef',
    ]);
  });
});
