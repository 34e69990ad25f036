// `npm run build`: plait's CLI as one bundle per entry point, so that a run loads a handful of files instead of
// resolving ~150 modules. Commands stay lazy (each dynamic import becomes its own chunk), dependencies stay in
// node_modules (external), and the ManifestList schema's validator is compiled here, once, with ajv's standalone
// code generator instead of at every start. Source maps are kept. Usage: tsx .ci/bundle.ts [--outdir DIR] [--metafile]
//
// The chunks are CommonJS. esbuild splits only ES modules, so it bundles and splits as ESM in memory, then turns each
// chunk into CommonJS (its source map carried through) and dist/package.json says "commonjs". Node loads CommonJS
// without its ES module loader, which otherwise costs every start ~15 ms on Node 20 (the loader's own modules,
// fs/promises and readline behind them, and an asynchronous read, link and evaluation per chunk); loading a chunk is
// then one synchronous read and compile. Packages that are ES modules only (openpgp, client-node) are loaded by
// import() where they are used: Node before 20.19 cannot require() them, and the build fails on a static import of one.
import { build, transform } from 'esbuild';
import type { Plugin } from 'esbuild';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
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
    // smol-toml (registries.conf) is an ES module only, so it cannot stay external to a CommonJS chunk that imports
    // it statically; it is small, and bundled it costs no resolution either.
    b.onResolve({ filter: /^smol-toml$/ }, () => ({ path: require.resolve('smol-toml') }));
    // The two undici modules src/transports/http.ts imports, with the 24 they require, inside the bundle: one read
    // and compilation of a chunk instead of a resolution, read and compilation each at every registry command.
    b.onResolve({ filter: /^undici\/lib\// }, (args) => ({ path: require.resolve(args.path) }));
    // What those modules require only in the moment it is needed stays in node_modules, read then as now: llhttp's
    // WebAssembly (two 72 KB modules of base64, one read at the first connection) and the fetch body code a FormData
    // request body needs (plait sends none). Neither holds state the bundled modules share.
    b.onResolve({ filter: /^\.\.\/(llhttp\/llhttp(_simd)?-wasm|web\/fetch\/body)\.js$/ }, (args) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h[12]\.js$/.test(args.importer)
        ? { path: `undici/lib/${args.path.slice('../'.length)}`, external: true }
        : undefined);
    // undici's client requires its HTTP/2 half at load, and that half loads node:http2 (~3–9 ms of a start here).
    // It runs only on a connection whose TLS handshake chose h2, which undici offers only with allowH2 (plait never
    // sets it): it stays in the bundle, loaded at its first call.
    b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/.test(args.importer)
        ? { path: require.resolve(join(dirname(args.importer), args.path)), namespace: 'lazy-h2' }
        : undefined);
    b.onLoad({ filter: /.*/, namespace: 'lazy-h2' }, (args) => ({
      contents: `let connect;\nmodule.exports = function connectH2(client, socket) {\n  connect ??= require(${JSON.stringify(args.path)});\n  return connect(client, socket);\n};\n`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/** ESM chunk → CommonJS chunk. Dynamic imports of plait's own chunks become require() in a promise; those of
 * packages stay import() (one of them may be an ES module), made by the import module below; import.meta.url is the
 * chunk's own file URL. Whitespace and syntax are minified, names are kept (stack traces still name plait's
 * functions, the source maps the lines): Node 20 compiles every chunk at every start, and a tenth less text to scan
 * was ~8 ms of validate's 130. */
async function toCommonJS(file: string, esm: string): Promise<{ code: string; map: string }> {
  const hashbang = esm.startsWith('#!') ? esm.slice(0, esm.indexOf('\n') + 1) : '';
  const body = esm.slice(hashbang.length).replace(/\bimport\((["'])([^."'][^"']*)\1\)/g, '__plaitImport($1$2$1)');
  const uses = (what: string) => body.includes(what);
  const banner = [
    "'use strict';",
    uses('__plaitImport(') ? `const __plaitImport = require(${JSON.stringify(importModuleFrom(file))});` : '',
    uses('import.meta') ? "const __plaitUrl = require('node:url').pathToFileURL(__filename).href;" : '',
  ].filter(Boolean).join(' ');
  const out = await transform(body, {
    format: 'cjs', platform: 'node', target: 'node20.18', sourcefile: basename(file), sourcemap: 'external',
    supported: { 'dynamic-import': false }, minifyWhitespace: true, minifySyntax: true, define: { 'import.meta.url': '__plaitUrl' }, banner, logLevel: 'warning',
  });
  if (out.code.includes('import.meta')) throw new Error(`bundle: ${basename(file)} still uses import.meta`);
  return { code: `${hashbang}${out.code}//# sourceMappingURL=${basename(file)}.map\n`, map: out.map };
}

// The bundle's one import(), in a module of its own: Node 20's code cache (src/cli/code-cache.ts) compiles the modules
// it caches as vm scripts, which cannot import(), and leaves a module that does to Node's own loader.
const importModule = join(dist, 'cli', 'chunks', 'import.js');
function importModuleFrom(file: string): string {
  const path = relative(dirname(file), importModule);
  return path.startsWith('.') ? path : `./${path}`;
}

/** A static import of a package that is an ES module only would be a require() Node < 20.19 cannot do. */
function esmOnly(pkg: string): boolean {
  const name = pkg.startsWith('@') ? pkg.split('/').slice(0, 2).join('/') : pkg.split('/')[0]!;
  if (name.startsWith('node:')) return false;
  return (require(join(root, 'node_modules', name, 'package.json')) as { type?: string }).type === 'module';
}

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
  sourcemap: 'inline',
  legalComments: 'none',
  // `plait --version` prints this without loading package.json or any chunk (src/build-version.d.ts).
  define: { PLAIT_BUILD_VERSION: JSON.stringify((require('../package.json') as { version: string }).version) },
  metafile: true,
  write: false,
  logLevel: 'warning',
  plugins: [precompiled],
});
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  for (const imp of meta.imports) {
    if (imp.external && imp.kind === 'import-statement' && esmOnly(imp.path)) {
      throw new Error(`bundle: ${out} imports ${imp.path} statically, but it is an ES module only: load it with import() where it is used`);
    }
  }
}
for (const file of result.outputFiles) {
  const { code, map } = await toCommonJS(file.path, file.text);
  await mkdir(dirname(file.path), { recursive: true });
  await writeFile(file.path, code);
  await writeFile(`${file.path}.map`, map);
}
await writeFile(importModule, "'use strict';\nmodule.exports = (specifier) => import(specifier);\n");
await writeFile(join(dist, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
await chmod(join(dist, 'cli', 'main.js'), 0o755);
if (values.metafile === true) await writeFile(join(dist, 'meta.json'), JSON.stringify(result.metafile));
