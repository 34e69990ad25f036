import { ErrorCodes, PlaitError } from '../../errors.js';

// A problem found in a spec: where it is (file, line, column, JSON path) and what is wrong, printed on one line as
// `FILE:LINE:COL: PATH: message` so that editors and CI annotations can jump to it.

/** One step of a JSON path: a property name or an array index. */
export type PathSegment = string | number;
export type JsonPath = readonly PathSegment[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `spec.sources[2].platform`; keys that are not identifiers are quoted: `spec.annotations["org.example.a"]`. */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** The inverse of formatPath: `spec.sources[2].platform` → ['spec', 'sources', 2, 'platform']. */
export function parsePath(s: string): PathSegment[] {
  const out: PathSegment[] = [];
  const re = /\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < s.length && (m = re.exec(s)) !== null) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3] ?? '""') as string);
  }
  if (re.lastIndex !== s.length) {
    throw new PlaitError(ErrorCodes.E_INVALID, `invalid JSON path ${JSON.stringify(s)}`);
  }
  return out;
}

export class Problem {
  constructor(
    /** The file as it was named (a directory walk joins the directory and the relative name); `<stdin>` for `-`. */
    readonly file: string,
    /** 1-based; 0 when there is no position (a file that cannot be read, a document that did not come from YAML). */
    readonly line: number,
    /** 1-based, in UTF-16 code units as yaml counts them. */
    readonly col: number,
    /** The JSON path (formatPath), "" for problems about the file or its YAML syntax. */
    readonly path: string,
    readonly message: string,
  ) {}

  toString(): string {
    const at = this.line > 0 ? `${this.file}:${this.line}:${this.col}` : this.file;
    return this.path === '' ? `${at}: ${this.message}` : `${at}: ${this.path}: ${this.message}`;
  }
}

/** One E_SPEC_INVALID error carrying every problem, one per line, for callers that throw rather than print. */
export function problemsError(problems: readonly Problem[]): PlaitError {
  const lines = problems.map(String);
  return new PlaitError(ErrorCodes.E_SPEC_INVALID, lines.join('\n'), { details: { problems: lines } });
}
