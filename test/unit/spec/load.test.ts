// Reading specs: directory recursion and order, multi-document files, stdin, unreadable paths, YAML syntax errors,
// and positions (JSON path → line:col).

import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDocuments, loadSpecs, parseDocuments, STDIN_NAME } from '../../../src/reconcile/spec/index.js';

const DOC = (name: string, extra = ''): string => `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: ${name}
spec:
  destination:
    image: registry.example.com/acme/${name}
    tags: [latest]
  sources:
    - image: registry.example.com/acme/${name}:amd64
${extra}`;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-spec-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text: string): Promise<void> {
  const path = join(dir, rel);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

describe('loadDocuments', () => {
  it('walks directories recursively in code-point order, *.yaml and *.yml only, skipping dot-directories and node_modules', async () => {
    await write('b.yaml', DOC('b'));
    await write('a/z.yml', DOC('az'));
    await write('a/B.yaml', DOC('ab'));
    await write('a-b.yaml', DOC('a-b'));
    await write('notes.txt', 'not yaml');
    await write('c.json', '{}');
    await write('.github/workflows/ci.yml', 'on: push');
    await write('node_modules/x/spec.yaml', DOC('nm'));
    await write('UPPER.YAML', DOC('upper'));
    const { documents, problems, files } = await loadDocuments(['.'], { cwd: dir });
    expect(problems).toEqual([]);
    expect(files).toEqual(['UPPER.YAML', 'a-b.yaml', 'a/B.yaml', 'a/z.yml', 'b.yaml']);
    expect(documents.map((d) => (d.doc as { metadata: { name: string } }).metadata.name)).toEqual(['upper', 'a-b', 'ab', 'az', 'b']);
    expect(documents[2]?.baseDir).toBe(join(dir, 'a'));
  });

  it('names files found in a directory by the directory as given', async () => {
    await write('specs/web.yaml', DOC('web'));
    const { documents } = await loadDocuments(['specs'], { cwd: dir });
    expect(documents.map((d) => d.file)).toEqual([join('specs', 'web.yaml')]);
    const absolute = await loadDocuments([join(dir, 'specs')]);
    expect(absolute.documents.map((d) => d.file)).toEqual([join(dir, 'specs', 'web.yaml')]);
  });

  it('follows symlinked files but not symlinked directories', async () => {
    await write('real/web.yaml', DOC('web'));
    await symlink(join(dir, 'real', 'web.yaml'), join(dir, 'link.yaml'));
    await symlink(join(dir, 'real'), join(dir, 'loop'));
    const { files } = await loadDocuments(['.'], { cwd: dir });
    expect(files).toEqual(['link.yaml', join('real', 'web.yaml')]);
  });

  it('splits multi-document files, numbering documents from 0 and skipping empty ones', async () => {
    await write('multi.yaml', `${DOC('one')}---\n# only a comment\n---\n---\n~\n---\n${DOC('two')}`);
    const { documents } = await loadDocuments(['multi.yaml'], { cwd: dir });
    expect(documents.map((d) => [d.index, (d.doc as { metadata: { name: string } }).metadata.name])).toEqual([
      [0, 'one'],
      [4, 'two'],
    ]);
    expect(documents[1]?.positions.value('metadata.name')).toEqual({ line: 20, col: 9 });
  });

  it('reads a file named twice once', async () => {
    await write('web.yaml', DOC('web'));
    const { documents } = await loadDocuments(['web.yaml', './web.yaml', '.'], { cwd: dir });
    expect(documents).toHaveLength(1);
  });

  it('reports paths that do not exist, empty directories and a missing stdin', async () => {
    await mkdir(join(dir, 'empty'));
    const { problems } = await loadDocuments(['nope.yaml', 'empty', '-'], { cwd: dir });
    expect(problems.map(String)).toEqual([
      'nope.yaml: no such file or directory',
      'empty: no *.yaml or *.yml files in this directory',
      `${STDIN_NAME}: standard input was not provided`,
    ]);
  });

  it('reports the first YAML syntax error of a document and still loads the other documents', async () => {
    await write('mixed.yaml', `${DOC('one')}---\nmetadata: {name: x\nspec: [\n---\n${DOC('three')}`);
    const { documents, problems } = await loadDocuments(['mixed.yaml'], { cwd: dir });
    expect(documents.map((d) => d.index)).toEqual([0, 2]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.file).toBe('mixed.yaml');
    expect(problems[0]?.line).toBe(13);
    expect(problems[0]?.path).toBe('');
    expect(problems[0]?.message).toMatch(/^YAML syntax error: /);
  });

  it('reports duplicate keys as YAML errors', () => {
    const { problems } = parseDocuments('a: 1\nb: 2\na: 3\n', 'dup.yaml', dir);
    expect(problems.map(String)).toEqual(['dup.yaml:3:1: YAML syntax error: Map keys must be unique']);
  });
});

describe('positions', () => {
  const text = `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: web
spec:
  destination: {image: "registry.example.com/acme/web", tags: [a, 'b']}
  sources:
    - image: x
      platform:
    - platform: linux/arm64
      annotations:
        org.example.build: "812"
  prune: &p true
  suspend: *p
`;
  const [doc] = parseDocuments(text, 'p.yaml', '/').documents;
  const pos = doc!.positions;

  it('maps a path to where its value starts', () => {
    expect(pos.value('spec.destination.image')).toEqual({ line: 6, col: 24 });
    expect(pos.value(['spec', 'destination', 'tags', 1])).toEqual({ line: 6, col: 67 });
    expect(pos.value('spec.sources[1].platform')).toEqual({ line: 10, col: 17 });
    expect(pos.value('spec.sources[1].annotations["org.example.build"]')).toEqual({ line: 12, col: 28 });
    expect(pos.value('spec.sources[1]')).toEqual({ line: 10, col: 7 });
    expect(pos.value('')).toEqual({ line: 1, col: 1 });
  });

  it('points an empty value at its key, and keys at themselves', () => {
    expect(pos.value('spec.sources[0].platform')).toEqual({ line: 9, col: 7 });
    expect(pos.key('spec.sources[1].annotations')).toEqual({ line: 11, col: 7 });
    expect(pos.key('spec.sources[0]')).toEqual({ line: 8, col: 7 });
  });

  it('points a missing property at its parent: the key when it has one, the mapping otherwise', () => {
    expect(pos.value('metadata.namespace')).toEqual({ line: 3, col: 1 });
    expect(pos.value('spec.sources[1].image')).toEqual({ line: 10, col: 7 });
    expect(pos.value('spec.sources[7]')).toEqual({ line: 7, col: 3 });
    expect(pos.value('status')).toEqual({ line: 1, col: 1 });
    expect(pos.value('spec.destination.image.deeper')).toEqual({ line: 6, col: 17 });
  });

  it('follows aliases and gives scalars their source text', () => {
    expect(pos.value('spec.suspend')).toEqual({ line: 14, col: 12 });
    expect(pos.source('spec.destination.tags[1]')).toBe("'b'");
    expect(pos.source('spec.sources[1].annotations["org.example.build"]')).toBe('"812"');
    expect(pos.source('spec.sources')).toBeUndefined();
  });
});

describe('loadSpecs', () => {
  it('reads - from the text the caller passes and resolves its relative files against the working directory', async () => {
    await write('keys/cosign.key', 'x');
    const stdin = DOC('from-stdin', '  signatures:\n    sigstore:\n      - privateKey: {file: keys/cosign.key}\n');
    const { specs, problems } = await loadSpecs(['-'], { stdin, context: 'cli', cwd: dir });
    expect(problems.map(String)).toEqual([]);
    expect(specs.map((s) => [s.file, s.name, s.baseDir])).toEqual([[STDIN_NAME, 'from-stdin', dir]]);
    const missing = await loadSpecs(['-'], { stdin, context: 'cli', cwd: join(dir, 'keys') });
    expect(missing.problems.map(String)).toEqual([
      '<stdin>:13:28: spec.signatures.sigstore[0].privateKey.file: file "keys/cosign.key" does not exist (relative to the working directory)',
    ]);
  });

  it('defaults to the current directory', async () => {
    await write('one.yaml', DOC('one'));
    const { specs } = await loadSpecs([], { context: 'cli', cwd: dir });
    expect(specs.map((s) => s.name)).toEqual(['one']);
  });

  it('orders problems by file as read, then by position, and keeps valid documents', async () => {
    await write('b.yaml', DOC('b', '  format: zip\n  prune: maybe\n'));
    await write('a.yaml', `${DOC('a', '  suspend: 1\n')}---\n${DOC('ok')}`);
    await write('c.yaml', 'kind: [\n');
    const { specs, problems } = await loadSpecs(['c.yaml', '.'], { context: 'cli', cwd: dir });
    expect(problems.map(String)).toEqual([
      'c.yaml:2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'a.yaml:11:12: spec.suspend: must be true or false, not 1',
      'b.yaml:11:11: spec.format: must be one of oci, docker (got "zip")',
      'b.yaml:12:10: spec.prune: must be true or false, not "maybe"',
    ]);
    expect(specs.map((s) => `${s.file}#${s.index}`)).toEqual(['a.yaml#1']);
  });

  it('places problems of later documents right, after a broken and an empty document (positions parse the file again)', async () => {
    const text = `${DOC('one')}---\nmetadata: {name: x\nspec: [\n---\n~\n---\n${DOC('three', '  suspend: 1\n')}---\n${DOC('four', '  prune: maybe\n')}`;
    await write('mixed.yaml', text);
    const { specs, problems } = await loadSpecs(['mixed.yaml'], { context: 'cli', cwd: dir });
    expect(problems.map(String)).toEqual([
      'mixed.yaml:13:1: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
      'mixed.yaml:27:12: spec.suspend: must be true or false, not 1',
      'mixed.yaml:39:10: spec.prune: must be true or false, not "maybe"',
    ]);
    expect(specs.map((s) => s.name)).toEqual(['one']);
  });

  it('finds duplicate names across files, and by namespace/name in the controller context', async () => {
    await write('a.yaml', DOC('web'));
    await write('b.yaml', DOC('web').replace('  name: web', '  name: web\n  namespace: other'));
    const cli = await loadSpecs(['.'], { context: 'cli', cwd: dir });
    expect(cli.problems.map(String)).toEqual(['b.yaml:4:9: metadata.name: duplicate name "web" (also at a.yaml:4:9)']);
    expect(cli.specs.map((s) => s.file)).toEqual(['a.yaml']);
    const controller = await loadSpecs(['.'], { context: 'controller', cwd: dir });
    expect(controller.problems).toEqual([]);
  });
});
