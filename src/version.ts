import { readFileSync } from 'node:fs';

// Read once from the package manifest so that --version and the User-Agent never drift from the release.
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
export const USER_AGENT = `plait/${VERSION}`;
