import { loadDocuments } from './load.js';
import type { LoadedSpec, Positions, SkippedDocument } from './load.js';
import type { Problem } from './problem.js';
import { withDefaults } from './types.js';
import type { ManifestList, ManifestListDoc } from './types.js';
import { checkDuplicateNames, validateDocument } from './validate.js';
import type { Context } from './validate.js';

// The spec layer's front door: read every document the paths name, validate each, and hand back the valid ones with
// their defaults applied, together with every problem found. Callers that change anything (apply, watch) act only
// when `problems` is empty; `plait validate` prints them, one per line.

export interface ValidSpec {
  file: string;
  /** The document's number in its file (0-based). */
  index: number;
  /** metadata.name. */
  name: string;
  /** The document with the schema's defaults applied. */
  doc: ManifestList;
  /** The document as written. */
  raw: ManifestListDoc;
  positions: Positions;
  /** Relative key and passphrase files are resolved against this directory. */
  baseDir: string;
}

export interface LoadSpecsOptions {
  /** The text `-` stands for (the caller reads stdin). */
  stdin?: string;
  /** 'cli' refuses secretRefs, which only the controller can read. */
  context: Context;
  /** Resolves relative paths; default process.cwd(). */
  cwd?: string;
  /** Check key files and passphrase variables (default true). */
  checkLocal?: boolean;
  /** Where `{env: NAME}` passphrases are looked up; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface LoadSpecsResult {
  /** Every document without a problem of its own, in the order read. */
  specs: ValidSpec[];
  /** Every problem, in the order the files were read, then by line and column. */
  problems: Problem[];
  /** Objects of other APIs found among the specs, not read as specs. */
  skipped: SkippedDocument[];
}

/** Load and validate files, directories (recursive *.yaml, *.yml) and `-`. An empty list means `.`. */
export async function loadSpecs(paths: readonly string[], opts: LoadSpecsOptions): Promise<LoadSpecsResult> {
  const loaded = await loadDocuments(paths.length > 0 ? paths : ['.'], { ...(opts.stdin !== undefined && { stdin: opts.stdin }), ...(opts.cwd !== undefined && { cwd: opts.cwd }) });
  // Files in the order they were read; within a file, by position.
  const fileOrder = new Map<string, number>();
  for (const f of loaded.files) if (!fileOrder.has(f)) fileOrder.set(f, fileOrder.size);
  const order = (file: string): number => fileOrder.get(file) ?? fileOrder.size;

  const perDoc = new Map<LoadedSpec, Problem[]>();
  const validateOpts = { context: opts.context, ...(opts.checkLocal !== undefined && { checkLocal: opts.checkLocal }), ...(opts.env !== undefined && { env: opts.env }) };
  for (const d of loaded.documents) perDoc.set(d, validateDocument(d, validateOpts));
  for (const { spec, problem } of checkDuplicateNames(loaded.documents, opts.context)) perDoc.get(spec)?.push(problem);

  const problems = [...loaded.problems];
  const specs: ValidSpec[] = [];
  for (const d of loaded.documents) {
    const own = perDoc.get(d) ?? [];
    problems.push(...own);
    if (own.length > 0) continue;
    const raw = d.doc as ManifestListDoc;
    specs.push({ file: d.file, index: d.index, name: raw.metadata.name, doc: withDefaults(raw), raw, positions: d.positions, baseDir: d.baseDir });
  }
  problems.sort((a, b) => order(a.file) - order(b.file) || a.line - b.line || a.col - b.col);
  return { specs, problems, skipped: loaded.skipped };
}

export { loadDocuments, parseDocuments, readSpecStream, skippedNote, NO_POSITIONS, STDIN_NAME, MAX_SPEC_FILE_BYTES, MAX_SPEC_TOTAL_BYTES } from './load.js';
export type { LoadedSpec, LoadOptions, LoadResult, Position, Positions, SkippedDocument } from './load.js';
export { Problem, formatPath, parsePath, problemsError } from './problem.js';
export type { JsonPath, PathSegment } from './problem.js';
export { checkDuplicateNames, createAjv, schemaValidator, validateDocument, validateObject, MIN_INTERVAL_MS } from './validate.js';
export type { Context, ValidateOptions } from './validate.js';
export { parseDuration, parseDurationNanos, formatDuration } from './duration.js';
export { manifestListSchema, SCHEMA_PATH } from './schema.js';
export * from './types.js';
