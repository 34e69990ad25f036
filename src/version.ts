import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

// Read once from the package manifest so that --version and the User-Agent never drift from the release.
const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
export const USER_AGENT = `plait/${VERSION}`;
