// Hostile references, platforms and command lines: each refused in one line (naming the reference, the JSON path or
// the flag), exit 1, nothing written. The cases are data under test/fixtures/hostile/{refs,platforms,flags}/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { expectOneLine, nothingWritten, readJson, sandboxes } from './helpers.js';
import type { Sandbox, Sandboxes } from './helpers.js';

const refs = await readJson<string[]>('refs/references.json');
const platforms = await readJson<string[]>('platforms/platforms.json');
const argvs = await readJson<string[][]>('flags/argv.json');

const spec = (source: string, platform?: string) => [
  'apiVersion: plait.dev/v1alpha1', 'kind: ManifestList', 'metadata:', '  name: hostile', 'spec:', '  destination:',
  '    image: oci:out/dest', '    tags: ["v1"]', '  sources:', `    - image: ${JSON.stringify(source)}`,
  ...(platform !== undefined ? [`      platforms: [${JSON.stringify(platform)}]`] : []), '',
].join('\n');

let boxes: Sandboxes;
beforeAll(async () => {
  boxes = await sandboxes();
  return () => boxes.close();
}, 120_000);

// Each case runs in a sandbox of its own (its spec file is written before the snapshot, and another case's must not
// land in it), so the cases run concurrently.
const inBox = (fn: (sb: Sandbox) => Promise<void>) => boxes.use(async (sb) => {
  await mkdir(join(sb.dir, 'specs'), { recursive: true });
  await fn(sb);
});

describe.concurrent('hostile references', () => {
  refs.forEach((ref, i) => {
    it(`inspect ${JSON.stringify(ref).slice(0, 60)}`, () => inBox(async (sb) => {
      await nothingWritten(sb, async () => {
        expectOneLine(await sb.plait(['inspect', ref]));
      });
    }));
    it(`as a spec source: ${JSON.stringify(ref).slice(0, 60)}`, () => inBox(async (sb) => {
      const f = join('specs', `ref-${i}.yaml`);
      await writeFile(join(sb.dir, f), spec(ref));
      await nothingWritten(sb, async () => {
        expectOneLine(await sb.plait(['apply', f]), /:10:\d+: spec\.sources\[0\]\.image: /);
      });
    }));
  });
});

describe.concurrent('hostile platforms', () => {
  platforms.forEach((p, i) => {
    it(`platform ${JSON.stringify(p).slice(0, 60)}`, () => inBox(async (sb) => {
      const f = join('specs', `platform-${i}.yaml`);
      await writeFile(join(sb.dir, f), spec('oci:src/layout:app', p));
      await nothingWritten(sb, async () => {
        expectOneLine(await sb.plait(['apply', f]), /:11:\d+: spec\.sources\[0\]\.platforms\[0\]: /);
      });
    }));
  });
});

describe.concurrent('hostile command lines', () => {
  for (const argv of argvs) {
    it(`plait ${JSON.stringify(argv).slice(0, 80)}`, () => inBox(async (sb) => {
      await nothingWritten(sb, async () => {
        expectOneLine(await sb.plait(argv));
      });
    }));
  }
});
