#!/usr/bin/env node
import module from 'node:module';
import { setFlagsFromString } from 'node:v8';
// Node ≥ 22.1 keeps compiled code of the modules it loads on disk between runs; Node 20 has no such cache.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
// undici parses HTTP with a WebAssembly build of llhttp; letting V8's optimising tier compile it costs ~35 MiB of
// resident memory for no measurable gain on a registry's short responses, so the baseline compiler does it alone.
setFlagsFromString('--liftoff-only');
// Loaded only now, so that the compile cache and the flag above apply to all of plait's own code.
const { run } = await import('./run.js');
await import('./commands/index.js');

process.exitCode = await run(process.argv.slice(2));
