import { interrupt, interruptSummary } from '../transports/interrupt.js';

// Ctrl-C / SIGTERM during a command that writes to registries: stop starting transfers, abort those in flight (their
// upload sessions are cancelled as they fail), then say in one line what was and was not written, and exit as shells
// expect of a process stopped by that signal (128 + its number). A second signal ends the process at once.

const EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof EXIT;

export async function stoppable(work: () => Promise<number>): Promise<number> {
  let got: StopSignal | undefined;
  const on = (sig: StopSignal) => () => {
    if (got) process.exit(EXIT[sig]);
    got = sig;
    interrupt(sig);
  };
  const onInt = on('SIGINT');
  const onTerm = on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
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
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
