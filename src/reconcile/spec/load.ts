import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { Problem, parsePath } from './problem.js';
import type { JsonPath } from './problem.js';

// Reading specs: files, directories (every *.yaml / *.yml below them, in sorted order) and `-` (stdin, handed over
// as a string). Each file may hold several YAML documents; empty ones are skipped. Every document keeps its YAML
// syntax tree so that a JSON path can be turned back into a line and column.

export const STDIN_NAME = '<stdin>';

export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
}

/** Maps JSON paths of one document to positions in its file. */
export interface Positions {
  /**
   * Where the value at `path` starts. A property whose value is empty points at its key. A path that does not exist
   * (a missing property) points at the nearest existing ancestor: at its key when it has one, else at its start.
   */
  value(path: JsonPath | string): Position;
  /** Where the key of the property at `path` is (for an array item or the document itself: where its value starts). */
  key(path: JsonPath | string): Position;
  /** The source text of the scalar at `path` as written (quotes included), if it is a scalar. */
  source(path: JsonPath | string): string | undefined;
}

export interface LoadedSpec {
  /** The file as named by the caller (directory walks join the directory and the relative name); `<stdin>` for -. */
  file: string;
  /** The document's number in its file, 0-based, counting empty documents too. */
  index: number;
  /** The document as a plain object (whatever it is: not validated yet). */
  doc: unknown;
  positions: Positions;
  /** Relative key and passphrase files are resolved against this: the file's directory, or the working directory. */
  baseDir: string;
}

export interface LoadResult {
  /** Every file read or tried, in order (the order problems are reported in). */
  files: string[];
  /** Documents that parsed as YAML and are not empty. */
  documents: LoadedSpec[];
  /** Paths that cannot be read, and YAML syntax errors (the first of each document, later ones tend to be echoes). */
  problems: Problem[];
}

export interface LoadOptions {
  /** What `-` reads: the caller reads stdin (the loader does no I/O on it). */
  stdin?: string;
  /** Resolves relative paths; default process.cwd(). */
  cwd?: string;
}

const YAML_FILE = /\.ya?ml$/i;
// Directory walks skip dot-directories (.git, .github…) and node_modules; a path named explicitly is always read.
const SKIPPED_DIRS = new Set(['node_modules']);

function toPath(path: JsonPath | string): JsonPath {
  return typeof path === 'string' ? parsePath(path) : path;
}

function keyName(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

interface Found {
  /** The node reached (the value at the path, or the deepest existing ancestor). */
  node: unknown;
  /** That node's key, when it is a property value. */
  keyNode: YamlNode | null;
  found: boolean;
}

function makePositions(doc: Document, lc: LineCounter, text: string): Positions {
  const pos = (offset: number): Position => {
    const { line, col } = lc.linePos(offset);
    return { line, col };
  };
  const start = (node: unknown): number => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range?.[0] ?? 0;
  };
  const isEmpty = (node: unknown): boolean => {
    if (node === null || node === undefined) return true;
    if (!isScalar(node) || node.value !== null || node.range === undefined || node.range === null) return false;
    return node.range[0] === node.range[1];
  };
  const walk = (path: JsonPath): Found => {
    let node: unknown = doc.contents;
    let keyNode: YamlNode | null = null;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => keyName(p.key) === String(seg));
        if (pair === undefined) return { node, keyNode, found: false };
        keyNode = (pair.key ?? null) as YamlNode | null;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item: unknown = node.items[seg];
        if (item === undefined) return { node, keyNode, found: false };
        keyNode = null;
        node = isPair(item) ? item.value : item;
      } else {
        return { node, keyNode, found: false };
      }
    }
    return { node, keyNode, found: true };
  };
  const anchor = (f: Found): Position => {
    if (f.found && !isEmpty(f.node)) return pos(start(f.node));
    if (f.keyNode !== null) return pos(start(f.keyNode));
    return pos(start(f.node ?? doc.contents));
  };
  return {
    value: (path) => anchor(walk(toPath(path))),
    key(path) {
      const f = walk(toPath(path));
      if (f.found && f.keyNode !== null) return pos(start(f.keyNode));
      return anchor(f);
    },
    source(path) {
      const f = walk(toPath(path));
      if (!f.found || !isScalar(f.node) || !f.node.range) return undefined;
      return text.slice(f.node.range[0], f.node.range[1]);
    },
  };
}

/** Positions for a document that did not come from YAML (a custom resource read from the API server): all 0:0. */
export const NO_POSITIONS: Positions = {
  value: () => ({ line: 0, col: 0 }),
  key: () => ({ line: 0, col: 0 }),
  source: () => undefined,
};

/** Split YAML text into documents. Syntax errors become problems (the first one per document). */
export function parseDocuments(text: string, file: string, baseDir: string): LoadResult {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, keepSourceTokens: false });
  const documents: LoadedSpec[] = [];
  const problems: Problem[] = [];
  let index = 0;
  for (const doc of docs) {
    const i = index++;
    const first = doc.errors[0];
    if (first !== undefined) {
      const { line, col } = lc.linePos(first.pos[0]);
      problems.push(new Problem(file, line, col, '', `YAML syntax error: ${first.message.split('\n')[0] ?? ''}`));
      continue;
    }
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) continue;
    let plain: unknown;
    try {
      plain = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      const { line, col } = lc.linePos(contents.range?.[0] ?? 0);
      problems.push(new Problem(file, line, col, '', `YAML error: ${(e as Error).message}`));
      continue;
    }
    documents.push({ file, index: i, doc: plain, positions: makePositions(doc, lc, text), baseDir });
  }
  return { files: [file], documents, problems };
}

/** Every *.yaml / *.yml below `absDir`, named as `displayDir` joined with the relative name. */
async function walkDirectory(absDir: string, displayDir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const entries = await readdir(join(absDir, rel), { withFileTypes: true });
    for (const e of entries) {
      const name = rel === '' ? e.name : `${rel}/${e.name}`;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await stat(join(absDir, name)).catch(() => undefined);
        isDir = st?.isDirectory() ?? false;
        isFile = st?.isFile() ?? false;
        // A linked directory is not followed: it could lead back up the tree.
        if (isDir) continue;
      }
      if (isDir) {
        if (!e.name.startsWith('.') && !SKIPPED_DIRS.has(e.name)) await visit(name);
      } else if (isFile && YAML_FILE.test(e.name)) {
        out.push(name);
      }
    }
  };
  await visit('');
  // Code-point order of the slash-separated relative names: the same on every machine and locale.
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((rel) => join(displayDir, rel));
}

function describeIoError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (e as Error).message;
}

/**
 * Read and parse every document the paths name. Files are read in the order given, directories in sorted order;
 * a file named twice (or reached twice) is read once.
 */
export async function loadDocuments(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const cwd = opts.cwd ?? process.cwd();
  const result: LoadResult = { files: [], documents: [], problems: [] };
  const seen = new Set<string>();
  const fail = (file: string, message: string): void => {
    result.files.push(file);
    result.problems.push(new Problem(file, 0, 0, '', message));
  };
  const add = (r: LoadResult): void => {
    result.files.push(...r.files);
    result.documents.push(...r.documents);
    result.problems.push(...r.problems);
  };
  const readOne = async (file: string): Promise<void> => {
    const abs = resolve(cwd, file);
    if (seen.has(abs)) return;
    seen.add(abs);
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (e) {
      fail(file, describeIoError(e));
      return;
    }
    add(parseDocuments(text, file, dirname(abs)));
  };
  for (const p of paths) {
    if (p === '-') {
      if (seen.has('-')) continue;
      seen.add('-');
      if (opts.stdin === undefined) {
        fail(STDIN_NAME, 'standard input was not provided');
        continue;
      }
      add(parseDocuments(opts.stdin, STDIN_NAME, cwd));
      continue;
    }
    const abs = resolve(cwd, p);
    let st;
    try {
      st = await stat(abs);
    } catch (e) {
      fail(p, describeIoError(e));
      continue;
    }
    if (st.isDirectory()) {
      const files = await walkDirectory(abs, p);
      if (files.length === 0) fail(p, 'no *.yaml or *.yml files in this directory');
      for (const f of files) await readOne(f);
    } else {
      await readOne(p);
    }
  }
  return result;
}
