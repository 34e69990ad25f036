import { isCollection, visit } from 'yaml';
import type { Document, LineCounter } from 'yaml';
import { Problem } from './problem.js';

// What the YAML library lets through with only a warning, or turns into something else silently, and a spec must not
// be: text that is not UTF-8 (read as U+FFFD replacement characters, or UTF-16/32 read as NUL-strewn bytes), tags
// nobody resolves (`!!python/object…` would otherwise be read as the plain value under it), YAML versions this parser
// does not speak, and keys that are mappings or lists (JavaScript would turn them into "[object Object]"-like text).

/** The first place the text is not clean UTF-8, as one problem; undefined when it is. */
export function encodingProblem(text: string, file: string): Problem | undefined {
  const at = (i: number) => {
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    return { line, col: i - before.lastIndexOf('\n') };
  };
  if (/^(?:\uFFFD\uFFFD|\uFEFF)?(?:[^\n\0]?\0){2}/.test(text.slice(0, 8)) || text.startsWith('\uFFFD\uFFFD')) {
    return new Problem(file, 1, 1, '', 'not UTF-8: the file looks UTF-16 or UTF-32 encoded; save it as UTF-8');
  }
  const bad = text.indexOf('\uFFFD');
  if (bad >= 0) {
    const { line, col } = at(bad);
    return new Problem(file, line, col, '', 'not valid UTF-8 here; specs must be UTF-8 text');
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const { line, col } = at(nul);
    return new Problem(file, line, col, '', 'a NUL byte: specs must be text');
  }
  return undefined;
}

/** A warning of the parser (unknown tag, unsupported %YAML version) or a collection used as a key, as one problem. */
export function strictnessProblem(doc: Document.Parsed, lc: LineCounter, file: string): Problem | undefined {
  const w = doc.warnings[0];
  if (w !== undefined) {
    const { line, col } = lc.linePos(w.pos[0]);
    return new Problem(file, line, col, '', `YAML: ${w.message.split('\n')[0] ?? ''}`);
  }
  let found: Problem | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isCollection(pair.key)) {
        const { line, col } = lc.linePos(pair.key.range?.[0] ?? 0);
        found = new Problem(file, line, col, '', 'a mapping or list used as a key; keys must be plain strings');
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}
