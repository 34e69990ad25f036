import type { LoadedSpec } from './load.js';
import { Problem, formatPath } from './problem.js';
import type { JsonPath } from './problem.js';

// Sizes apply would refuse, refused by validate instead. A registry (and containers/image) takes no manifest over
// 4 MiB, and the list plait pushes carries the spec's index annotations once and each source's annotations on every
// instance of that source. How many instances a source gives is known only once it is read, so validate caps the
// annotations of a spec together: at 64 KiB, a list goes over 4 MiB only if a source with the whole 64 KiB on it had
// more than 60 instances, where a real multi-arch list has a handful and the schema allows 256 sources.

/** The annotations of one spec together (index and sources, keys and values as JSON). */
export const MAX_SPEC_ANNOTATION_BYTES = 64 * 1024;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const jsonBytes = (v: unknown): number => (isObject(v) ? Buffer.byteLength(JSON.stringify(v)) : 0);

/** Problems for a schema-valid document whose annotations apply could not be relied on to push. */
export function sizeProblems(spec: LoadedSpec): Problem[] {
  const doc = spec.doc as Obj;
  const body = isObject(doc.spec) ? doc.spec : {};
  const sources = Array.isArray(body.sources) ? (body.sources as unknown[]) : [];
  const parts: { path: JsonPath; bytes: number }[] = [{ path: ['spec', 'annotations'], bytes: jsonBytes(body.annotations) }];
  sources.forEach((s, i) => parts.push({ path: ['spec', 'sources', i, 'annotations'], bytes: isObject(s) ? jsonBytes(s.annotations) : 0 }));
  const total = parts.reduce((n, p) => n + p.bytes, 0);
  if (total <= MAX_SPEC_ANNOTATION_BYTES) return [];
  // Pointed at the biggest share, the one to shorten.
  const largest = parts.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const at = spec.positions.key(largest.path);
  return [new Problem(spec.file, at.line, at.col, formatPath(largest.path), `annotations take ${total} bytes in all, more than the ${MAX_SPEC_ANNOTATION_BYTES / 1024} KiB a spec may carry (a pushed list must stay under 4 MiB)`)];
}
