import { resolve as resolvePath } from 'node:path';
import { watch as chokidarWatch } from 'chokidar';
import { PlaitError, ErrorCodes } from '../../errors.js';
import { claimRegistries, closeAllClients } from '../../transports/index.js';
import { Store, resolveStoreRoot } from '../../core/store/index.js';
import { setSecretFileWarning } from '../../core/sign/key-file.js';
import { loadSpecs, parseDuration } from '../../reconcile/spec/index.js';
import type { ValidSpec } from '../../reconcile/spec/index.js';
import { toReconcileSpec } from '../../reconcile/from-spec.js';
import { reconcileAll } from '../../reconcile/run.js';
import { parseFlags, REGISTRY_FLAGS, SIDE_REGISTRY_FLAGS, transportOptions, str } from '../flags.js';
import { progressReporter } from '../output.js';
import { onStopSignals } from '../interrupts.js';
import type { Command } from '../run.js';

// plait watch: reconcile the specs under PATH… now, again whenever their files change (debounced), and every spec on
// its own interval. An edit that does not validate is reported and the last good version of that spec is kept. On
// SIGINT/SIGTERM the watcher stops taking work and waits for what is running, so no store record is left half-done.

export const watch: Command = {
  name: 'watch',
  summary: 'reconcile now, on every change of the given files, and on each spec\'s interval',
  usage: 'plait watch [flags] [PATH…]',
  description: 'PATH is a file or a directory (every *.yaml and *.yml below it); the default is the current directory. An edit\nthat does not validate is reported and the last good version of that spec is kept. SIGINT or SIGTERM stops\nwatching after the reconciles in progress.',
  async run(args) {
    const { values, positionals } = parseFlags('watch', args, {
      ...REGISTRY_FLAGS, ...SIDE_REGISTRY_FLAGS,
      store: { type: 'string', arg: 'DIR', help: 'the local store (default: $PLAIT_STORE, $XDG_DATA_HOME/plait, ~/.local/share/plait)' },
      debounce: { type: 'string', arg: 'MS', help: 'wait this long after a change before reloading (default 300)' },
      'log-format': { type: 'string', arg: 'FORMAT', help: 'progress on stderr as text (default) or json lines' },
      concurrency: { type: 'string', arg: 'N', help: 'specs reconciled at once (default 4)' },
      jobs: { type: 'string', arg: 'N', help: 'blobs copied at once per spec (default 4)' },
    });
    const paths = positionals.length > 0 ? positionals : ['.'];
    if (paths.includes('-')) throw new PlaitError(ErrorCodes.E_INVALID, 'watch: stdin cannot be watched; name files or directories');
    const debounceMs = values.debounce === undefined ? 300 : Number(values.debounce);
    if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new PlaitError(ErrorCodes.E_INVALID, '--debounce takes milliseconds');
    const logFormat = str(values['log-format']) === 'json' ? 'json' : 'text';
    const count = (name: string): number => {
      const v = values[name];
      const n = v === undefined ? 4 : Number(v);
      if (!Number.isInteger(n) || n < 1) throw new PlaitError(ErrorCodes.E_INVALID, `--${name} must be a positive integer, not ${JSON.stringify(v)}`);
      return n;
    };
    const concurrency = count('concurrency');
    const jobs = count('jobs');
    const transport = transportOptions(values);
    const store = await Store.open(resolveStoreRoot({ store: str(values.store) }));
    const report = progressReporter(logFormat);
    const say = (msg: string) => process.stderr.write(logFormat === 'json' ? `${JSON.stringify({ time: new Date().toISOString(), event: 'watch', message: msg })}\n` : `${msg}\n`);
    if (logFormat === 'json') setSecretFileWarning((message) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), event: 'warning', message })}\n`));

    /** The last good version of every spec, by name. */
    const good = new Map<string, ValidSpec>();
    const timers = new Map<string, NodeJS.Timeout>();
    const running = new Set<string>();
    const pending = new Set<string>();
    let stopping = false;
    let inflight: Promise<unknown> = Promise.resolve();

    const reconcile = (names: string[]) => {
      if (stopping) return;
      const ready = names.filter((n) => {
        if (running.has(n)) {
          pending.add(n);
          return false;
        }
        return good.has(n) && good.get(n)!.doc.spec.suspend !== true;
      });
      if (ready.length === 0) return;
      for (const n of ready) running.add(n);
      const specs = ready.map((n) => toReconcileSpec(good.get(n)!, transport));
      const job = reconcileAll(specs, store, { concurrency, jobs, onEvent: report }).finally(() => {
        for (const n of ready) running.delete(n);
        const again = ready.filter((n) => pending.delete(n));
        if (again.length > 0) reconcile(again);
      });
      inflight = Promise.all([inflight, job]);
    };

    const schedule = (v: ValidSpec) => {
      clearInterval(timers.get(v.name));
      const every = parseDuration(v.doc.spec.interval);
      timers.set(v.name, setInterval(() => reconcile([v.name]), every));
    };

    const load = async (initial = false): Promise<string[]> => {
      const { specs, problems } = await loadSpecs(paths, { context: 'cli' });
      for (const p of problems) say(String(p));
      const changed: string[] = [];
      const seen = new Set<string>();
      for (const s of specs) {
        seen.add(s.name);
        const prev = good.get(s.name);
        if (!prev || JSON.stringify(prev.raw.spec) !== JSON.stringify(s.raw.spec) || prev.file !== s.file) {
          // A flag credential stays with the registry it was first bound to; a spec that would send it to another
          // is refused (at start: the whole command, as apply does).
          try {
            const r = toReconcileSpec(s, transport);
            claimRegistries(transport, { source: r.sources.map((x) => x.image), destination: [r.destination.image] });
          } catch (e) {
            if (initial) throw e;
            say(`${s.name}: ${(e as Error).message}`);
            continue;
          }
          good.set(s.name, s);
          schedule(s);
          changed.push(s.name);
        }
      }
      // A spec whose file is gone stops; one whose file is merely invalid now keeps its last good version.
      const files = new Set([...specs.map((s) => s.file), ...problems.map((p) => p.file)]);
      for (const [name, s] of good) {
        if (!seen.has(name) && !files.has(s.file)) {
          good.delete(name);
          clearInterval(timers.get(name));
          timers.delete(name);
          say(`${name}: spec removed; no longer watched`);
        }
      }
      return changed;
    };

    reconcile(await load(true));
    say(`watching ${paths.join(', ')} (${good.size} spec${good.size === 1 ? '' : 's'})`);

    let debounce: NodeJS.Timeout | undefined;
    const roots = paths.map((p) => resolvePath(p));
    const watcher = chokidarWatch(roots, {
      ignoreInitial: true,
      // Like the loader: hidden folders and node_modules below a watched path are not specs.
      ignored: (p: string) => {
        const root = roots.find((r) => p === r || p.startsWith(`${r}/`));
        const rel = root === undefined ? p : p.slice(root.length);
        return /\/(\.[^/]+|node_modules)(\/|$)/.test(rel);
      },
    });
    watcher.on('all', (_event, file) => {
      if (!/\.ya?ml$/.test(file)) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        void load().then((changed) => reconcile(changed), (e: unknown) => say(`reload failed: ${(e as Error).message}`));
      }, debounceMs);
    });

    await new Promise<void>((resolve) => {
      onStopSignals((sig) => {
        stopping = true;
        say(`${sig}: stopping after the reconciles in progress`);
        resolve();
      });
    });
    clearTimeout(debounce);
    for (const t of timers.values()) clearInterval(t);
    await watcher.close();
    await inflight;
    await closeAllClients();
    say('stopped');
    return 0;
  },
};
