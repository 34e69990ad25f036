import { interrupt, interruptSummary } from '../transports/interrupt.js';

// Ctrl-C / SIGTERM during a command that writes to registries: stop starting transfers, abort those in flight (their
// upload sessions are cancelled as they fail), then say in one line what was and was not written, and exit as shells
// expect of a process stopped by that signal (128 + its number). A second signal ends the process at once. The
// long-running commands (watch, controller) stop on the same signals through onStopSignals.

const EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof EXIT;

/**
 * Call `first` at the first SIGINT or SIGTERM; a second one ends the process at once (128 + its number). Returns what
 * removes the listeners. They are `on` listeners, not `once`: proper-lockfile's signal-exit, loaded at the first lock,
 * re-raises a signal it finds itself alone with, so a listener already gone when it runs would let it kill the process
 * instead of letting it stop.
 */
export function onStopSignals(first: (sig: StopSignal) => void): () => void {
  let seen = false;
  const listener = (sig: StopSignal) => () => {
    if (seen) process.exit(EXIT[sig]);
    seen = true;
    first(sig);
  };
  const onInt = listener('SIGINT');
  const onTerm = listener('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

export async function stoppable(work: () => Promise<number>): Promise<number> {
  let got: StopSignal | undefined;
  const off = onStopSignals((sig) => {
    got = sig;
    interrupt(sig);
  });
  try {
    let code: number;
    try {
      code = await work();
    } catch (e) {
      if (!got) throw e;
      code = 1;
    }
    if (!got) return code;
    process.stderr.write(`plait: ${interruptSummary(got)}\n`);
    // Whatever still holds the event loop (a half-closed socket) must not keep a stopped command alive.
    setTimeout(() => process.exit(EXIT[got!]), 5000).unref();
    return EXIT[got];
  } finally {
    off();
  }
}
