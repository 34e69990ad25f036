// Hostile OCI layouts read as sources: traversal in index.json, blobs that are directories, FIFOs or symlinks out of
// the layout, digest and size lies, oversized and malformed documents, media types that lie, lists of lists, broken
// oci-layout files. Each case (test/fixtures/hostile/layouts/*.json) is built at test time, then read by `plait inspect`
// and by `plait apply` of a spec whose source it is, into an oci: destination: exit 1, one line naming the layout and
// what is wrong, nothing written anywhere (the store and the destination compared byte for byte). The scale cases must
// work instead.
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, escapeRe, expectOneLine, nothingWritten, readJson, sandboxes } from './helpers.js';
import type { Sandboxes } from './helpers.js';
import { buildLayout, expectOneFailure, expectNoImageWritten } from './served.js';
import type { LayoutCase } from './served.js';

const kinds = (await readdir(join(CORPUS, 'layouts'))).filter((f) => f.endsWith('.json')).sort();
const groups = await Promise.all(kinds.map(async (k) => ({ kind: k.replace(/\.json$/, ''), cases: await readJson<LayoutCase[]>(`layouts/${k}`) })));

const spec = (name: string, source: string, platform?: string) => [
  'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', `metadata: {name: ${name}}`, 'spec:',
  `  destination: {image: "oci:out/${name}", tags: [v1]}`,
  `  sources: [{image: ${JSON.stringify(source)}${platform ? `, platforms: [${platform}]` : ''}}]`, '',
].join('\n');

let boxes: Sandboxes;
beforeAll(async () => {
  boxes = await sandboxes();
  return () => boxes.close();
}, 120_000);

// Each case has a sandbox of its own (store, working directory, destinations): they share nothing, so they run
// concurrently (vitest's maxConcurrency bounds how many at once).
for (const { kind, cases } of groups) {
  describe.concurrent(`hostile layouts: ${kind}`, () => {
    for (const c of cases) {
      it(c.name, () => boxes.use(async (sb) => {
        await buildLayout(join(sb.dir, 'layouts', c.name), c.steps, join(sb.dir, 'outside', c.name), c.name);
        const source = `oci:layouts/${c.name}:${c.ref ?? 'app'}`;
        const file = `${c.name}.layout.yaml`;
        await writeFile(join(sb.dir, file), spec(c.name, source, c.ref === 'list' && c.works ? 'linux/amd64' : undefined));
        if (c.works) {
          const r = await sb.plait(['inspect', source]);
          expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
          const a = await sb.plait(['apply', file]);
          expect(a.code, a.stderr).toBe(0);
          return;
        }
        // The line names the layout (its directory) and says what is wrong.
        const names = new RegExp(escapeRe(`layouts/${c.name}`));
        const says = new RegExp(c.says, 'i');
        const run = async () => {
          const r = await sb.plait(['inspect', source]);
          if (c.inspect === 'works') {
            // What inspect shows (the top manifest or list) is sound; the lie is below it, where apply must find it.
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
          } else {
            expectOneLine(r, names);
            expectOneLine(r, says);
          }
          const a = await sb.plait(['apply', file]);
          expectOneFailure(a, c.name, names);
          expectOneFailure(a, c.name, says);
        };
        if (c.stage === 'copy') await expectNoImageWritten(sb, join(sb.dir, 'out', c.name), run);
        else await nothingWritten(sb, run);
      }), 120_000);
    }
  });
}
