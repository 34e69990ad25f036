import { PlaitError, ErrorCodes } from '../errors.js';

// Stopping on Ctrl-C / SIGTERM: one process-wide signal every registry request listens to (in-flight transfers are
// aborted, new ones refused at once), and a ledger of what the transports did write, so the command can say what
// was and was not written. Upload sessions a failed or aborted blob upload leaves open are cancelled by the upload
// itself (registry/image.ts), before its failure reaches the caller.

const controller = new AbortController();

export const interruptSignal: AbortSignal = controller.signal;

export function interrupt(why: string): void {
  if (!controller.signal.aborted) controller.abort(new PlaitError(ErrorCodes.E_INTERRUPTED, `interrupted (${why})`));
}

export function isInterrupted(): boolean {
  return controller.signal.aborted;
}

export function interruptedError(): PlaitError {
  const r: unknown = controller.signal.reason;
  return r instanceof PlaitError ? r : new PlaitError(ErrorCodes.E_INTERRUPTED, 'interrupted');
}

export function throwIfInterrupted(): void {
  if (controller.signal.aborted) throw interruptedError();
}

interface Written { blobs: number; manifests: number; tags: string[] }

/** What was written where (a registry repository or a layout), in the order first written. */
const ledger = new Map<string, Written>();
let uploadsCancelled = 0;
let uploadsLeftOpen = 0;

function at(where: string): Written {
  let w = ledger.get(where);
  if (!w) {
    w = { blobs: 0, manifests: 0, tags: [] };
    ledger.set(where, w);
  }
  return w;
}

export const writes = {
  blob(where: string): void {
    at(where).blobs++;
  },
  /** A manifest stored; with a tag, that tag now points at it. */
  manifest(where: string, tag?: string): void {
    const w = at(where);
    w.manifests++;
    if (tag !== undefined && !tag.includes(':') && !w.tags.includes(tag)) w.tags.push(tag);
  },
  uploadCancelled(ok: boolean): void {
    if (ok) uploadsCancelled++;
    else uploadsLeftOpen++;
  },
};

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** One line: what was written and what not, and that a re-run resumes (blobs already there are not sent again). */
export function interruptSummary(signal: string): string {
  const parts: string[] = [];
  const moved: string[] = [];
  for (const [where, w] of ledger) {
    const what = [w.blobs > 0 && plural(w.blobs, 'blob'), w.manifests > 0 && plural(w.manifests, 'manifest')].filter(Boolean).join(' and ');
    if (what) parts.push(`${what} written to ${where}`);
    for (const t of w.tags) moved.push(`${where}:${t}`);
  }
  const uploads = [
    uploadsCancelled > 0 && `${plural(uploadsCancelled, 'open upload')} cancelled`,
    uploadsLeftOpen > 0 && `${plural(uploadsLeftOpen, 'upload')} could not be cancelled (the registry purges them)`,
  ].filter(Boolean);
  return [
    `interrupted by ${signal}: ${parts.length > 0 ? parts.join(', ') : 'nothing was written'}`,
    ...uploads,
    moved.length > 0 ? `tags moved: ${moved.join(', ')}` : 'no tag was moved',
    're-run to resume',
  ].join('; ');
}
