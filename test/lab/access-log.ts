import { readFile, stat } from 'node:fs/promises';

// Reading the registry's own access log is how tests and benches count what a command really sent: the registry is
// the witness, not the client.

export interface AccessEntry {
  method: string;
  path: string;
  status: number;
  bytes: number;
  userAgent: string;
}

const LINE = /^(\S+) \S+ \S+ \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+|-) "[^"]*" "([^"]*)"/;

export function parseAccessLog(text: string): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({ method: m[2]!, path: m[3]!, status: Number(m[4]), bytes: m[5] === '-' ? 0 : Number(m[5]), userAgent: m[6]! });
  }
  return out;
}

/** A position in the log; entries after it belong to whatever ran since. */
export async function logMark(file: string): Promise<number> {
  return (await stat(file)).size;
}

/**
 * The entries written since `mark`. The registry writes a line after the response has gone out, so a client can be
 * done before its last line lands: wait until the log has stopped growing for a short while.
 */
export async function entriesSince(file: string, mark: number, settleMs = 150): Promise<AccessEntry[]> {
  let size = (await stat(file)).size;
  for (;;) {
    await new Promise((r) => setTimeout(r, settleMs));
    const now = (await stat(file)).size;
    if (now === size) break;
    size = now;
  }
  const buf = await readFile(file);
  return parseAccessLog(buf.subarray(mark).toString('utf8'));
}

/** Count by "METHOD kind" where kind is manifests, blobs, uploads, tags, base, other — the shape benches report. */
export function classify(entries: AccessEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) {
    const p = e.path.split('?')[0]!;
    const kind = p === '/v2/' ? 'base' : p.includes('/blobs/uploads/') ? 'uploads' : p.includes('/manifests/') ? 'manifests'
      : p.includes('/blobs/') ? 'blobs' : p.includes('/tags/') ? 'tags' : 'other';
    const k = `${e.method} ${kind}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
