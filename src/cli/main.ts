#!/usr/bin/env node
const argv = process.argv.slice(2);
if (typeof PLAIT_BUILD_VERSION === 'string' && (argv[0] === '--version' || argv[0] === 'version')) {
  // A bundled plait knows its version: answering here loads none of its modules (what `plait --version` in a CI
  // step's log costs is then Node's own start-up).
  process.stdout.write(`plait version ${PLAIT_BUILD_VERSION}\n`);
} else {
  // No top-level await: the bundle is CommonJS (.ci/bundle.ts), which has none.
  void (async () => {
    // Compiled code of the modules loaded from here on is kept on disk between runs (Node's own cache where it has
    // one); the rest of plait is loaded only after it, so that it applies to all of plait's own code.
    (await import('./code-cache.js')).installCodeCache();
    const { run } = await import('./run.js');
    await import('./commands/index.js');
    process.exitCode = await run(argv);
  })();
}
