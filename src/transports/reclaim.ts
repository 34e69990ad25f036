import { runInNewContext } from 'node:vm';
import { setV8Flags } from '../v8-flags.js';

// Why a blob copy's peak RSS grew with the blob's size although every byte streams: each socket or file read is a
// fresh ArrayBuffer (64 KiB), and a dead one is freed only by a GC. A copy allocates little else on the JS heap, so
// V8 scavenges rarely and leaves the read buffers to its external-memory heuristic, which let some 32 MiB of dead
// ones pile up before it marked (Node 20, one 1 GiB copy: 39 mark-compacts, all for external memory). A 16 MiB copy
// ends before that; a 256 MiB one peaked ~34 MiB above a 1 MiB one.
//
// So the bytes that pass the verifiers are counted, and after every READ_BUDGET of them a scavenge is asked for: the
// read buffers of the last few MiB are young and dead by then, and die in it. A scavenge of a copy's few live stream
// objects takes about a millisecond or less, and it spares V8 the external-memory mark-compacts: the same 1 GiB copy
// then ran one. V8 offers a GC to code only with --expose-gc; set at run time, the flag gives the function to
// contexts made after it, so one such context hands it over. Where that fails, nothing is asked for. (The verifiers'
// buffers are kept small for the same reason: see VerifyingStream.)

const READ_BUDGET = 4 * 1024 * 1024;

type Collect = (options: { type: 'minor' }) => void;

let collect: Collect | undefined | null;
let pending = 0;

function collector(): Collect | undefined {
  if (collect === undefined) {
    try {
      setV8Flags('--expose-gc');
      const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
      collect = typeof gc === 'function' ? (gc as Collect) : null;
    } catch {
      collect = null;
    }
  }
  return collect ?? undefined;
}

/** Count `bytes` more read into fresh buffers; after every READ_BUDGET of them, scavenge the young generation. */
export function readBytes(bytes: number): void {
  pending += bytes;
  if (pending < READ_BUDGET) return;
  pending = 0;
  collector()?.({ type: 'minor' });
}
