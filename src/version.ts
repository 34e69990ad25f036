import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

// Read once from the package manifest (at build time for the bundle) so that --version and the User-Agent never
// drift from the release.
export const VERSION: string = typeof PLAIT_BUILD_VERSION === 'string' ? PLAIT_BUILD_VERSION : (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
export const USER_AGENT = `plait/${VERSION}`;
