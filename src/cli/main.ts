#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
// undici parses HTTP with a WebAssembly build of llhttp; letting V8's optimising tier compile it costs ~35 MiB of
// resident memory for no measurable gain on a registry's short responses, so the baseline compiler does it alone.
setFlagsFromString('--liftoff-only');
import { run } from './run.js';
import './commands/index.js';

process.exitCode = await run(process.argv.slice(2));
