import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package's own root (where package.json and schemas/ are), found by walking up from this module: the same
// answer from src/ (tests, tsx), from tsc's dist/ tree and from the bundled dist/cli/, which sit at different depths.

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('plait: cannot find the package root (package.json beside schemas/)');
    dir = up;
  }
}
