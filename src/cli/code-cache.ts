import module from 'node:module';
import { dirname, join } from 'node:path';
import type * as FS from 'node:fs';
import type { Script } from 'node:vm';
import { beforeV8FlagChange, v8FlagsSet } from '../v8-flags.js';

// V8's compiled code of each CommonJS module, kept on disk between runs. Without it Node parses and compiles plait's
// chunks at every start (~25 ms of a no-op reconcile's CPU profile on Node 20, in wrapSafe). Each module is compiled
// as a vm.Script with the cache of its last run, and a module that had none (or whose cache V8 refused) has its
// cache written when the run ends: written then, it holds the functions the run compiled lazily too, not only the
// top level that a cache made right after compiling holds (measured on Node 20: that one did not speed validate up
// at all). Node ≥ 22.1's module.enableCompileCache() makes its entries that way, when a module is compiled, so it is
// used only for what this one leaves to Node (ES modules, and CommonJS modules that may import()): with it alone,
// validate on Node 24 took 88 ms, with this one 77 ms (node -e 0: 42 ms; medians of 40 alternated runs).
//
// What keeps a cache honest: V8 itself refuses one made by another V8, with other flags (see src/v8-flags.ts for
// the flags plait changes while running: an entry is kept per set of flags, and a run writes what it compiled before
// each change first) or for a source of another length. V8 does not compare the source itself, so each entry holds
// the module's path and flags and its whole source, and is used only when both are byte for byte those of the module
// now compiled: neither an edit of the same length nor a hash that clashes can run old code. Comparing costs a copy
// of the text and a memcmp; a CRC-32 of it cost loading node:zlib, which loads the stream modules with it.
// Entries are written to a temporary file and renamed, so a reader never sees half of one. They live where Node's
// own cache would (NODE_COMPILE_CACHE, else the temporary directory: plait-code-cache-<uid>, mode 0700), one
// directory per Node version and architecture, one file per module path and flags; NODE_DISABLE_COMPILE_CACHE turns
// this one off as it does Node's. A cache that cannot be read or written is no cache: the module is compiled as Node
// would, and the run goes on. Chunk names change with their content, so each build leaves entries no run will read:
// a run that wrote entries removes, as it ends, those whose module file is gone and those of another format.

/** What Node's CommonJS loader calls to compile and run a module's text (Module.prototype._compile). */
interface LoadingModule {
  exports: unknown;
  _compile: (this: LoadingModule, content: string, filename: string, format?: string) => unknown;
}

interface Unwritten {
  file: string;
  script: Script;
  /** The entry up to the cached data: header, key, source. */
  head: Buffer;
}

// An entry: magic, the key's length and the source's length in bytes (u32 LE each), the key (UTF-8 of the module's
// path, a NUL and the V8 flags set), the source (UTF-8), then V8's cached data.
const MAGIC = 0x32636c70; // "plc2"
const HEADER = 12;
const DYNAMIC_IMPORT = /\bimport\s*\(/;

/** The entry's file name for a key: FNV-1a, 32 bits. A clash costs only misses, since the entry holds its key. */
export function entryName(key: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return `${(hash >>> 0).toString(16).padStart(8, '0')}.cache`;
}

/** The lengths an entry's header gives, or undefined for bytes that are no entry of this format. */
function headerOf(entry: Buffer): { keyLength: number; sourceLength: number } | undefined {
  if (entry.length < HEADER || entry.readUInt32LE(0) !== MAGIC) return undefined;
  return { keyLength: entry.readUInt32LE(4), sourceLength: entry.readUInt32LE(8) };
}

/** The cached data of `entry` if it was made for exactly this key and source, else undefined. */
export function cachedDataOf(entry: Buffer, key: Buffer, source: Buffer): Buffer | undefined {
  const start = HEADER + key.length;
  const end = start + source.length;
  const header = headerOf(entry);
  if (header === undefined || entry.length <= end) return undefined;
  if (header.keyLength !== key.length || header.sourceLength !== source.length) return undefined;
  if (!entry.subarray(HEADER, start).equals(key) || !entry.subarray(start, end).equals(source)) return undefined;
  return entry.subarray(end);
}

const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * Remove the entries in `dir` that no run can use again: those of another format (an older plait's) and those whose
 * module file is gone (a rebuilt or removed install: chunk names change with their content), and temporary files a
 * run that crashed left over an hour ago. `skip` names entries known good (this run's). Anything unreadable is kept.
 */
export function pruneEntries(fs: typeof FS, dir: string, skip: ReadonlySet<string> = new Set()): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const head = Buffer.alloc(HEADER + 4096);
  for (const name of names) {
    const path = join(dir, name);
    if (skip.has(path)) continue;
    try {
      if (name.endsWith('.tmp')) {
        if (Date.now() - fs.statSync(path).mtimeMs > STALE_TEMP_MS) fs.unlinkSync(path);
        continue;
      }
      if (!name.endsWith('.cache')) continue;
      const fd = fs.openSync(path, 'r');
      let got: number;
      try {
        got = fs.readSync(fd, head, 0, head.length, 0);
      } finally {
        fs.closeSync(fd);
      }
      const header = headerOf(head.subarray(0, got));
      let gone = header === undefined;
      if (header !== undefined) {
        if (HEADER + header.keyLength > got) continue; // a key longer than we read: keep it rather than guess
        const key = head.toString('utf8', HEADER, HEADER + header.keyLength);
        const end = key.indexOf('\0');
        gone = !fs.existsSync(end < 0 ? key : key.slice(0, end));
      }
      if (gone) fs.unlinkSync(path);
    } catch {
      // another run removed or replaced it first, or it cannot be read: leave it
    }
  }
}

/** What an entry for this key and source begins with; its cached data follows. */
export function entryHead(key: Buffer, source: Buffer): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(key.length, 4);
  header.writeUInt32LE(source.length, 8);
  return Buffer.concat([header, key, source]);
}

/** Where this runtime's entries go (undefined: the cache is switched off), and whether its parent must be checked. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): { dir: string; base: string; chosen: boolean } | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const chosen = Boolean(env.NODE_COMPILE_CACHE);
  const base = env.NODE_COMPILE_CACHE || join(process.getBuiltinModule('node:os').tmpdir(), `plait-code-cache-${process.getuid?.() ?? 'user'}`);
  return { dir: join(base, `${process.version}-${process.arch}`), base, chosen };
}

/** A directory only this user can write (lstat: a symlink in its place is not one). */
function ownDirectory(fs: typeof FS, path: string): boolean {
  try {
    const st = fs.lstatSync(path);
    return st.isDirectory() && (process.getuid === undefined || st.uid === process.getuid()) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Keep compiled code of the modules loaded from now on: plait's own cache for CommonJS, Node's (≥ 22.1) for the rest. */
export function installCodeCache(): void {
  (module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  const where = codeCacheDir();
  if (where === undefined) return;
  const { dir, base, chosen } = where;
  const fs = process.getBuiltinModule('node:fs');
  // Code from the cache runs as plait: it is read only from a directory nobody else can write, and in the shared
  // temporary directory its parent must be one too. Until there is one, every module is a miss.
  const trusted = (): boolean => ownDirectory(fs, dir) && (chosen || ownDirectory(fs, base));
  let readable = trusted();
  const vm = process.getBuiltinModule('node:vm');
  const proto = (module as unknown as { prototype: LoadingModule }).prototype;
  const compile = proto._compile;
  const unwritten: Unwritten[] = [];
  let writable = true;

  proto._compile = function (this: LoadingModule, content: string, filename: string, format?: string): unknown {
    if (typeof content !== 'string' || (format !== undefined && format !== 'commonjs')) {
      return compile.call(this, content, filename, format);
    }
    // One entry per module and set of flags: a module that one command compiles before a flag is set and another
    // after it has two caches, each of which V8 accepts, rather than one that each command refuses in turn.
    const keyText = `${filename}\0${v8FlagsSet()}`;
    const file = join(dir, entryName(keyText));
    const key = Buffer.from(keyText);
    const source = Buffer.from(content);
    let cachedData: Buffer | undefined;
    if (readable) {
      try {
        cachedData = cachedDataOf(fs.readFileSync(file), key, source);
      } catch {
        // no entry yet
      }
    }
    // A vm script can import() only with a loader callback that Node 20 calls experimental, and one that came from a
    // code cache loses it: a module that may import() is compiled by Node (plait's own import() is one small module).
    // Entries are written only for modules that have none, so a module whose entry matched needs no second look.
    if (cachedData === undefined && DYNAMIC_IMPORT.test(content)) return compile.call(this, content, filename, format);
    // The function wrapper Node's loader puts around a module, on a line of its own so that lines and columns in
    // stack traces (and the source maps they are looked up in) stay the file's. A hashbang is valid only as a
    // script's first characters: it becomes a comment of the same width.
    const body = content.startsWith('#!') ? `//${content.slice(2)}` : content;
    const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {\n${body}\n})`, {
      filename,
      lineOffset: -1,
      cachedData,
    });
    if (cachedData === undefined || script.cachedDataRejected === true) unwritten.push({ file, script, head: entryHead(key, source) });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, module.createRequire(filename), this, filename, dirname(filename));
  };

  const written = new Set<string>();
  const write = (): void => {
    for (const { file, script, head } of unwritten.splice(0)) {
      if (!writable) break;
      const temp = `${file}.${process.pid}.tmp`;
      try {
        if (!readable) {
          fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
          readable = trusted();
          if (!readable) throw new Error(`${dir} is not a directory of this user's alone`);
        }
        fs.writeFileSync(temp, Buffer.concat([head, script.createCachedData()]), { mode: 0o600 });
        fs.renameSync(temp, file);
        written.add(file);
      } catch {
        writable = false;
        try {
          fs.rmSync(temp, { force: true });
        } catch {
          // nothing more to do
        }
      }
    }
  };
  beforeV8FlagChange(write);
  // A run that wrote entries (after a new install, an upgrade or with a new set of flags) also clears out the dead
  // ones as it ends; a run whose every module hit its entry costs nothing more.
  process.on('exit', () => {
    write();
    if (written.size > 0) pruneEntries(fs, dir, written);
  });
}
