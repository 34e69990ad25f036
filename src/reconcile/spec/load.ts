import { close, fstat, open as openFd, read as readFd, readdir as readdirCb, stat as statCb } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Composer, LineCounter, Parser, isAlias, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { Problem, parsePath } from './problem.js';
import { encodingProblem, strictnessProblem } from './strict-yaml.js';
import type { JsonPath } from './problem.js';

// Reading specs: files, directories (every *.yaml / *.yml below them, in sorted order) and `-` (stdin, handed over
// as a string). Each file may hold several YAML documents; empty ones are skipped. Every document keeps its YAML
// syntax tree so that a JSON path can be turned back into a line and column.

export const STDIN_NAME = '<stdin>';

/**
 * The most one spec file (or standard input) may hold. A spec is a few KiB, one with hundreds of sources a few tens;
 * the YAML parser needs about a hundred times a file's size in memory and slows down on huge mappings, so a file
 * this big is refused on its size alone, before it is read.
 */
export const MAX_SPEC_FILE_BYTES = 1024 * 1024;
/** The most all the files of one run may hold together (thousands of specs), for the same reason. */
export const MAX_SPEC_TOTAL_BYTES = 16 * 1024 * 1024;
/** The group whose documents are specs; a directory may hold other Kubernetes objects, which are skipped. */
const PLAIT_GROUP = 'plait.dev';

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

export interface SkippedDocument {
  file: string;
  index: number;
  line: number;
  /** `apiVersion` and `kind` as written. */
  apiVersion: string;
  kind: string;
}

export interface LoadResult {
  /** Every file read or tried, in order (the order problems are reported in). */
  files: string[];
  /** Documents that parsed as YAML, are not empty and are not another API's objects. */
  documents: LoadedSpec[];
  /** Kubernetes objects of other API groups (a Deployment, a Kustomization) sharing the files: not specs. */
  skipped: SkippedDocument[];
  /** Paths that cannot be read, and YAML syntax errors (the first of each document, later ones tend to be echoes). */
  problems: Problem[];
}

export interface LoadOptions {
  /** What `-` reads: the caller reads stdin (the loader does no I/O on it). */
  stdin?: string;
  /** Resolves relative paths; default process.cwd(). */
  cwd?: string;
}

// The callback API, not node:fs/promises (and the build takes node:fs as CommonJS, .ci/bundle.ts): loading
// fs/promises costs ~1.3 MiB of resident memory on Node 24, a tenth of what `plait validate` adds to Node's own
// start-up, and validate would load it for these calls alone. node:util comes from getBuiltinModule as in cli/flags.ts.
const { promisify } = process.getBuiltinModule('node:util');
const open = promisify(openFd);
const fstatFd = promisify(fstat);
const closeFd = promisify(close);
const readAt = promisify(readFd);
const stat = promisify(statCb);
const readdir = promisify(readdirCb);

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

/**
 * The documents of `text` one at a time, as parseAllDocuments reads them but without holding them all: a document
 * (its syntax tree is ~50 times its text) can be dropped as soon as it is read, so a file of a thousand specs never
 * has a thousand trees alive for the garbage collector to copy and promote.
 */
function yamlDocuments(text: string, lc?: LineCounter): Generator<Document.Parsed, void> {
  const composer = new Composer({ prettyErrors: false, keepSourceTokens: false });
  return composer.compose(new Parser(lc?.addNewLine).parse(text));
}

/**
 * Where paths of document `index` of `text` are. Only a problem asks, so the syntax trees are not kept: the first
 * question parses the file again (once, for all its documents), and `lc` already holds its line starts.
 */
function makePositions(trees: () => Document.Parsed[], index: number, lc: LineCounter, text: string): Positions {
  const tree = (): Document => trees()[index]!;
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
    const doc = tree();
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
    return pos(start(f.node ?? tree().contents));
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

/**
 * A mapping with a string apiVersion outside plait.dev is another API's object. A ManifestList kind keeps a document
 * ours whatever its apiVersion says (a typo there is an error), and so does a missing apiVersion.
 */
function foreignObject(doc: unknown): { apiVersion: string; kind: string } | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const { apiVersion, kind } = doc as Record<string, unknown>;
  if (typeof apiVersion !== 'string' || kind === 'ManifestList') return undefined;
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : apiVersion;
  if (group === PLAIT_GROUP) return undefined;
  return { apiVersion, kind: typeof kind === 'string' ? kind : '' };
}

/** Split YAML text into documents. Syntax errors become problems (the first one per document). */
export function parseDocuments(text: string, file: string, baseDir: string): LoadResult {
  const lc = new LineCounter();
  const encoding = encodingProblem(text, file);
  if (encoding) return { files: [file], documents: [], skipped: [], problems: [encoding] };
  let trees: Document.Parsed[] | undefined;
  const reparse = (): Document.Parsed[] => (trees ??= Array.from(yamlDocuments(text)));
  const documents: LoadedSpec[] = [];
  const skipped: SkippedDocument[] = [];
  const problems: Problem[] = [];
  let index = 0;
  for (const doc of yamlDocuments(text, lc)) {
    const i = index++;
    const first = doc.errors[0];
    if (first !== undefined) {
      const { line, col } = lc.linePos(first.pos[0]);
      problems.push(new Problem(file, line, col, '', `YAML syntax error: ${first.message.split('\n')[0] ?? ''}`));
      continue;
    }
    const strict = strictnessProblem(doc, lc, file);
    if (strict) {
      problems.push(strict);
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
    const foreign = foreignObject(plain);
    if (foreign !== undefined) {
      skipped.push({ file, index: i, line: lc.linePos(contents.range?.[0] ?? 0).line, ...foreign });
      continue;
    }
    documents.push({ file, index: i, doc: plain, positions: makePositions(reparse, i, lc, text), baseDir });
  }
  return { files: [file], documents, skipped, problems };
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

/** One line saying which objects of other APIs were skipped (the first few by name), or undefined for none. */
export function skippedNote(skipped: readonly SkippedDocument[]): string | undefined {
  if (skipped.length === 0) return undefined;
  const shown = skipped.slice(0, 3).map((d) => `${d.file}:${d.line} (${d.kind || '?'} ${d.apiVersion})`);
  const more = skipped.length > shown.length ? `, and ${skipped.length - shown.length} more` : '';
  return `skipped ${skipped.length} ${skipped.length === 1 ? 'object' : 'objects'} of other APIs: ${shown.join(', ')}${more}`;
}

const mib = (n: number): string => `${n / (1024 * 1024)} MiB`;

/** Why a spec text of `size` bytes is refused, if it is. */
function tooBig(size: number): string | undefined {
  return size > MAX_SPEC_FILE_BYTES ? `is ${size} bytes, more than a spec file may hold (${mib(MAX_SPEC_FILE_BYTES)}); refused unread` : undefined;
}

/**
 * Read a stream (standard input) as UTF-8, refusing it as soon as it holds more than a spec file may: a pipe has no
 * size to check beforehand, so the bytes are counted as they come.
 */
export async function readSpecStream(stream: AsyncIterable<Buffer | string>, name = STDIN_NAME): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    size += b.length;
    if (size > MAX_SPEC_FILE_BYTES) {
      throw new PlaitError(ErrorCodes.E_INVALID, `${name}: more than a spec file may hold (${mib(MAX_SPEC_FILE_BYTES)}); refused`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Read a file of at most MAX_SPEC_FILE_BYTES, its size checked on the open file before anything is read. */
async function readCapped(abs: string): Promise<{ text: string } | { refused: string }> {
  const fd = await open(abs, 'r');
  try {
    const st = await fstatFd(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    const why = tooBig(st.size);
    if (why !== undefined) return { refused: why };
    // Read to the end, not to st.size: a file that grows meanwhile is still refused once past the limit.
    const chunks: Buffer[] = [];
    let n = 0;
    for (;;) {
      const buffer = Buffer.alloc(Math.max(st.size + 1 - n, 16 * 1024));
      const { bytesRead } = await readAt(fd, buffer, 0, buffer.length, n);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      n += bytesRead;
      if (n > MAX_SPEC_FILE_BYTES) return { refused: `grew past ${mib(MAX_SPEC_FILE_BYTES)} while being read; refused` };
    }
    return { text: Buffer.concat(chunks).toString('utf8') };
  } finally {
    await closeFd(fd);
  }
}

/**
 * Read and parse every document the paths name. Files are read in the order given, directories in sorted order;
 * a file named twice (or reached twice) is read once. Documents of other APIs are skipped (and counted); a path
 * that yields no document at all is a problem, as is a file or standard input over MAX_SPEC_FILE_BYTES, and files
 * that together exceed MAX_SPEC_TOTAL_BYTES.
 */
export async function loadDocuments(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const cwd = opts.cwd ?? process.cwd();
  const result: LoadResult = { files: [], documents: [], skipped: [], problems: [] };
  const seen = new Set<string>();
  let total = 0;
  const fail = (file: string, message: string): void => {
    result.files.push(file);
    result.problems.push(new Problem(file, 0, 0, '', message));
  };
  const add = (r: LoadResult): void => {
    result.files.push(...r.files);
    result.documents.push(...r.documents);
    result.skipped.push(...r.skipped);
    result.problems.push(...r.problems);
  };
  const parse = (text: string, file: string, baseDir: string): void => {
    total += Buffer.byteLength(text);
    if (total > MAX_SPEC_TOTAL_BYTES) {
      fail(file, `the specs read so far exceed ${mib(MAX_SPEC_TOTAL_BYTES)} together; refused (split the run)`);
      return;
    }
    add(parseDocuments(text, file, baseDir));
  };
  /** Whether the file was read now (false: read before). */
  const readOne = async (file: string): Promise<boolean> => {
    const abs = resolve(cwd, file);
    if (seen.has(abs)) return false;
    seen.add(abs);
    let r;
    try {
      r = await readCapped(abs);
    } catch (e) {
      fail(file, describeIoError(e));
      return true;
    }
    if ('refused' in r) fail(file, r.refused);
    else parse(r.text, file, dirname(abs));
    return true;
  };
  for (const p of paths) {
    const before = { documents: result.documents.length, skipped: result.skipped.length, problems: result.problems.length };
    let read = false;
    if (p === '-') {
      if (seen.has('-')) continue;
      seen.add('-');
      if (opts.stdin === undefined) {
        fail(STDIN_NAME, 'standard input was not provided');
        continue;
      }
      const why = tooBig(Buffer.byteLength(opts.stdin));
      if (why !== undefined) fail(STDIN_NAME, why);
      else parse(opts.stdin, STDIN_NAME, cwd);
      read = true;
    } else {
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
        for (const f of files) read = (await readOne(f)) || read;
      } else {
        read = await readOne(p);
      }
    }
    // A path that holds no spec at all is a mistake (the wrong directory, a typo'd file), not "nothing to do".
    if (read && result.documents.length === before.documents && result.problems.length === before.problems) {
      const skipped = result.skipped.length - before.skipped;
      fail(p === '-' ? STDIN_NAME : p, `no ManifestList documents${skipped > 0 ? ` (${skipped} ${skipped === 1 ? 'object' : 'objects'} of other APIs skipped)` : ''}`);
    }
  }
  return result;
}
