#!/usr/bin/env node
import module from 'node:module';

const argv = process.argv.slice(2);
if (typeof PLAIT_BUILD_VERSION === 'string' && (argv[0] === '--version' || argv[0] === 'version')) {
  // A bundled plait knows its version: answering here loads none of its modules (what `plait --version` in a CI
  // step's log costs is then Node's own start-up).
  process.stdout.write(`plait version ${PLAIT_BUILD_VERSION}\n`);
} else {
  // Node ≥ 22.1 keeps compiled code of the modules it loads on disk between runs; Node 20 has no such cache.
  (module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  // Loaded only now, so that the compile cache applies to all of plait's own code. No top-level await: the bundle is
  // CommonJS (.ci/bundle.ts), which has none.
  void (async () => {
    const { run } = await import('./run.js');
    await import('./commands/index.js');
    process.exitCode = await run(argv);
  })();
}
