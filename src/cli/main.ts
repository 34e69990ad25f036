#!/usr/bin/env node
import { run } from './run.js';
import './commands/index.js';

process.exitCode = await run(process.argv.slice(2));
