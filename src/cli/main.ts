#!/usr/bin/env node
// Before anything else, the Node.js that package.json's engines asks for. On an older one plait's modules fail in ways
// that do not name the cause (Node 18, still Debian 12's nodejs: "process.getBuiltinModule is not a function" under a
// screen of minified code), and npm only warns about engines when installing. Kept equal to engines by a unit test.
const MIN_NODE = [20, 18, 1];
const [major = 0, minor = 0, patch = 0] = process.versions.node.split('.').map(Number);
const tooOld = major !== MIN_NODE[0] ? major < MIN_NODE[0]! : minor !== MIN_NODE[1] ? minor < MIN_NODE[1]! : patch < MIN_NODE[2]!;
const argv = process.argv.slice(2);
if (tooOld) {
  process.stderr.write(`plait: needs Node.js ${MIN_NODE.join('.')} or later; this is ${process.version} (${process.execPath})\n`);
  process.exitCode = 1;
} else if (typeof PLAIT_BUILD_VERSION === 'string' && (argv[0] === '--version' || argv[0] === 'version')) {
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
