// V8 flags that plait sets while it runs (--liftoff-only where undici loads, --expose-gc for a copy's scavenges), and
// who must hear of a change first. A leaf module like errors.ts, so any layer may set a flag.
//
// Why anyone must hear of it: V8 stamps the code cache it writes for a script with the flags of the moment it is
// written, and refuses a cache whose stamp differs from the flags at the next compile of that script. Node 20's code
// cache (src/cli/code-cache.ts) writes what a run compiled at its end; a script compiled before a flag changed would
// then carry the later flags, and its cache would be refused at every next start. So it writes those first.

type Listener = () => void;

/**
 * WebAssembly compiled by the baseline tier alone (Liftoff), never tiered up to the optimising one. A flag set at
 * run time does not bring the flags it implies with it: on Node 24 (V8 13) `--liftoff-only` alone still let hot
 * functions tier up, so the two tier-up flags it implies at start-up are turned off by name as well.
 */
export const WASM_BASELINE_ONLY = '--liftoff-only --no-wasm-tier-up --no-wasm-dynamic-tiering';

const listeners = new Set<Listener>();
const changes: string[] = [];

/** Call `listener` before each V8 flag change; returns the function that stops it. */
export function beforeV8FlagChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** v8.setFlagsFromString, after every listener has run. node:v8 is loaded here, at the first flag, not before. */
export function setV8Flags(flags: string): void {
  for (const listener of listeners) listener();
  process.getBuiltinModule('node:v8').setFlagsFromString(flags);
  changes.push(flags);
}

/** The flags set so far in this run, in order ('' before the first). */
export function v8FlagsSet(): string {
  return changes.join(' ');
}
