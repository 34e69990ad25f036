// Hostile specs: YAML bombs, deep nesting, huge files, wrong encodings, duplicate keys, wrong shapes. Committed files
// under test/fixtures/hostile/specs/, plus the big ones generated here (never committed).
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { CORPUS, escapeRe, expectOneLine, nothingWritten, sandboxes } from './helpers.js';
import type { Sandboxes } from './helpers.js';

const HEAD = `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: hostile
spec:
  destination:
    image: oci:out/dest
    tags: ["v1"]
  sources:
    - image: oci:src/layout:app
`;

const GENERATED: Record<string, () => string> = {
  'generated-10mb-comment.yaml': () => `${HEAD}#${'x'.repeat(10 * 1024 * 1024)}\n`,
  'generated-10mb-scalar.yaml': () => HEAD.replace('name: hostile', `name: ${'a'.repeat(10 * 1024 * 1024)}`),
  'generated-deep-lists.yaml': () => HEAD.replace('tags: ["v1"]', `tags: ${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  'generated-deep-maps.yaml': () => HEAD.replace('tags: ["v1"]', `tags: ${'{a: '.repeat(50_000)}x${'}'.repeat(50_000)}`),
  'generated-deep-block.yaml': () => `${HEAD}  x:\n${Array.from({ length: 3000 }, (_, i) => `${'  '.repeat(i + 2)}k${i}:`).join('\n')} end\n`,
  'generated-10000-sources.yaml': () => HEAD + Array.from({ length: 10_000 }, (_, i) => `    - image: oci:src/layout:app${i}\n`).join(''),
  'generated-10mb-many-docs.yaml': () => `${HEAD}---\n`.repeat(40_000),
};

// What the one line must say, beyond "FILE:LINE:COL: " (or "FILE: " for a file refused whole).
const SAYS: Record<string, RegExp> = {
  'bomb-billion-laughs.yaml': /alias/i,
  'bomb-wide-aliases.yaml': /alias/i,
  'bomb-merge-keys.yaml': /alias/i,
  'utf16le-bom.yaml': /UTF-8/,
  'utf16be-bom.yaml': /UTF-8/,
  'utf32le-bom.yaml': /UTF-8/,
  'latin1-bytes.yaml': /UTF-8/,
  'invalid-utf8-in-tag.yaml': /UTF-8/,
  'overlong-utf8.yaml': /UTF-8/,
  'binary-garbage.yaml': /UTF-8/,
  'nul-bytes.yaml': /NUL/,
  'duplicate-key-top.yaml': /unique/,
  'duplicate-key-nested.yaml': /unique/,
  'duplicate-key-quoted.yaml': /unique/,
  'duplicate-key-merge-override.yaml': /unique/,
  'unknown-tag-python-object.yaml': /tag/i,
  'unknown-tag-js-function.yaml': /tag/i,
  'bad-yaml-directive.yaml': /YAML version/,
  'generated-10mb-comment.yaml': /MiB|too (big|large)|more than/i,
  'generated-10mb-scalar.yaml': /MiB|too (big|large)|more than/i,
  'generated-10000-sources.yaml': /spec\.sources/,
};

let boxes: Sandboxes;
const committed = (await readdir(join(CORPUS, 'specs'))).filter((f) => f.endsWith('.yaml')).sort();

beforeAll(async () => {
  boxes = await sandboxes();
  return () => boxes.close();
}, 120_000);

// A sandbox per case (the generated specs are 10 MiB each: no later case hashes them), so the cases run concurrently.
describe.concurrent('hostile specs: apply refuses them in one line and writes nothing', () => {
  for (const name of [...committed, ...Object.keys(GENERATED)]) {
    it(name, () => boxes.use(async (sb) => {
      const file = join(sb.dir, 'specs', name);
      const gen = GENERATED[name];
      await mkdir(join(sb.dir, 'specs'), { recursive: true });
      if (gen) await writeFile(file, gen());
      else await copyFile(join(CORPUS, 'specs', name), file);
      await nothingWritten(sb, async () => {
        const r = await sb.plait(['apply', join('specs', name)]);
        expectOneLine(r, new RegExp(`^${escapeRe(join('specs', name))}(:\\d+:\\d+)?: `));
        if (SAYS[name]) expectOneLine(r, SAYS[name]);
      });
    }), 120_000);
  }
});
