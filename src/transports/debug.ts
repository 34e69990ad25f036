// Diagnostics for a person chasing a problem (PLAIT_DEBUG=1, which also prints error stacks): one line each on stderr,
// never a secret. Off by default, so no command's output changes.
export function debug(message: string, env: NodeJS.ProcessEnv = process.env): void {
  if (env.PLAIT_DEBUG === '1') process.stderr.write(`plait: debug: ${message}\n`);
}
