// `npm run build`: plait's CLI as one ESM bundle per entry point, so that a run loads a handful of files instead of
// resolving ~150 modules. Commands stay lazy (each dynamic import becomes its own chunk), dependencies stay in
// node_modules (external), and the ManifestList schema's validator is compiled here, once, with ajv's standalone
// code generator instead of at every start. Source maps are kept. Usage: tsx .ci/bundle.ts [--outdir DIR] [--metafile]
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import standalone from 'ajv/dist/standalone/index.js';
import { createAjv } from '../src/reconcile/spec/validate.js';
import { manifestListSchema } from '../src/reconcile/spec/schema.js';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { outdir: { type: 'string' }, metafile: { type: 'boolean' } } });
const dist = resolve(values.outdir ?? join(root, 'dist'));
const require = createRequire(import.meta.url);

/** The precompiled validator: the same ajv options as at run time, but checked against the meta-schema and optimised. */
function validatorModule(): string {
  // Referenced definitions stay functions of their own instead of being inlined into their users: V8 compiles a
  // function at its first call, so a document that uses few of the schema's parts compiles only those (one inlined
  // root function was ~10 ms of every validate's start-up).
  const ajv = createAjv({ code: { source: true, esm: true, optimize: true }, inlineRefs: false });
  const code = standalone.default(ajv, ajv.compile(manifestListSchema()));
  return `${code}\nexport { validate as precompiled };\n`;
}

const precompiled: Plugin = {
  name: 'precompiled-validator',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]reconcile[\\/]spec[\\/]precompiled\.ts$/ }, () => ({ contents: validatorModule(), loader: 'js', resolveDir: root }));
    // The standalone code requires two tiny helpers of ajv's run time; bundle them rather than load ajv at all.
    b.onResolve({ filter: /^(ajv\/dist\/runtime\/|fast-deep-equal$)/ }, (args) => ({ path: require.resolve(args.path) }));
    // yaml is read by nearly every command and is ~70 small files: inside the bundle it costs one parse, not 70
    // module resolutions.
    b.onResolve({ filter: /^yaml$/ }, () => ({ path: require.resolve('yaml') }));
    // node:fs is taken as CommonJS, not as Node's ES module of it: building that module reads every export, and
    // `fs.promises` is a getter that loads fs/promises (with readline and file watchers behind it), ~1.3 MiB of
    // resident memory on Node 24 for a command that never uses it, such as validate (reconcile/spec/load.ts and
    // cli/output.ts avoid importing node:fs/promises for the same reason).
    b.onResolve({ filter: /^node:fs$/ }, () => ({ path: 'node:fs', namespace: 'builtin-cjs' }));
    b.onLoad({ filter: /^node:fs$/, namespace: 'builtin-cjs' }, () => ({ contents: "module.exports = process.getBuiltinModule('node:fs');", loader: 'js' }));
  },
};

await rm(dist, { recursive: true, force: true });
const result = await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outdir: join(dist, 'cli'),
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  packages: 'external',
  sourcemap: true,
  legalComments: 'none',
  // `plait --version` prints this without loading package.json or any chunk (src/build-version.d.ts).
  define: { PLAIT_BUILD_VERSION: JSON.stringify((require('../package.json') as { version: string }).version) },
  // CommonJS code inside the bundle (yaml, ajv's run-time helpers) may require Node's built-ins.
  banner: { js: "import { createRequire as __plaitRequire } from 'node:module'; const require = __plaitRequire(import.meta.url);" },
  metafile: values.metafile === true,
  logLevel: 'warning',
  plugins: [precompiled],
});
await chmod(join(dist, 'cli', 'main.js'), 0o755);
if (result.metafile) await writeFile(join(dist, 'meta.json'), JSON.stringify(result.metafile));
