import { readFile, stat } from 'node:fs/promises';
import { PlaitError, ErrorCodes } from '../../errors.js';
import { claimRegistries, closeAllClients } from '../../transports/index.js';
import type { TransportOptions } from '../../transports/index.js';
import { Store, resolveStoreRoot } from '../../core/store/index.js';
import { setSecretFileWarning } from '../../core/sign/key-file.js';
import { loadSpecs, readSpecStream, skippedNote, MAX_SPEC_FILE_BYTES } from '../../reconcile/spec/index.js';
import { toReconcileSpec } from '../../reconcile/from-spec.js';
import type { ReconcileSpec } from '../../reconcile/model.js';
import { reconcileAll } from '../../reconcile/run.js';
import { readHistory } from '../../reconcile/history.js';
import { rollback } from '../../reconcile/apply.js';
import { parseFlags, REGISTRY_FLAGS, SIDE_REGISTRY_FLAGS, transportOptions, str } from '../flags.js';
import type { FlagSpec, Parsed } from '../flags.js';
import { isInterrupted, interruptedError } from '../../transports/interrupt.js';
import { stoppable } from '../interrupts.js';
import { render, summaryLine, appendStepSummary, progressReporter, table, jsonError, withJsonErrors } from '../output.js';
import type { OutputFormat } from '../output.js';
import type { Command } from '../run.js';

// plait apply | plan | history | rollback: the reconciler from the command line.

const STORE: FlagSpec = {
  store: { type: 'string', arg: 'DIR', help: 'the local store (default: $PLAIT_STORE, $XDG_DATA_HOME/plait, ~/.local/share/plait)' },
};

const COMMON: FlagSpec = {
  ...REGISTRY_FLAGS,
  ...SIDE_REGISTRY_FLAGS,
  ...STORE,
  output: { type: 'string', short: 'o', arg: 'FORMAT', help: 'the result as table (default), json or yaml' },
  'log-format': { type: 'string', arg: 'FORMAT', help: 'progress on stderr as text (default) or json lines' },
  concurrency: { type: 'string', arg: 'N', help: 'specs reconciled at once (default 4)' },
  jobs: { type: 'string', arg: 'N', help: 'blobs copied at once per spec (default 4)' },
};

const PATHS = 'PATH is a file, a directory (every *.yaml and *.yml below it) or - for standard input; the default is the\ncurrent directory. Objects of other APIs in those files (a Deployment, a Kustomization) are skipped.';

function positiveInt(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new PlaitError(ErrorCodes.E_INVALID, `--${name} must be a positive integer, not ${JSON.stringify(v)}`);
  return n;
}

function outputFormat(v: unknown): OutputFormat {
  const f = (str(v) ?? 'table') as OutputFormat;
  if (!['table', 'json', 'yaml'].includes(f)) throw new PlaitError(ErrorCodes.E_INVALID, `-o must be table, json or yaml, not ${f}`);
  return f;
}

function logFormat(v: unknown): 'text' | 'json' {
  const f = str(v) ?? 'text';
  if (f !== 'text' && f !== 'json') throw new PlaitError(ErrorCodes.E_INVALID, `--log-format must be text or json, not ${f}`);
  return f;
}

async function readStdin(): Promise<string> {
  return readSpecStream(process.stdin as AsyncIterable<Buffer>);
}

/** Load, validate and convert the specs; any problem → its lines on stderr and exit 1, before anything is touched. */
export async function loadForReconcile(paths: string[], transport: TransportOptions, opts: { json?: boolean } = {}): Promise<ReconcileSpec[] | undefined> {
  const stdin = paths.includes('-') ? await readStdin() : undefined;
  const { specs, problems, skipped } = await loadSpecs(paths, { context: 'cli', ...(stdin !== undefined && { stdin }) });
  const note = skippedNote(skipped);
  if (note !== undefined) process.stderr.write(`${note}\n`);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${String(p)}\n`);
    if (opts.json) process.stdout.write(jsonError(ErrorCodes.E_SPEC_INVALID, String(problems[0]), { problems: problems.map(String) }));
    return undefined;
  }
  const out = specs.map((s) => toReconcileSpec(s, transport));
  // Every registry the run reaches is known now: bind each flag credential to its one registry before any request.
  claimRegistries(transport, { source: out.flatMap((s) => s.sources.map((x) => x.image)), destination: out.map((s) => s.destination.image) });
  return out;
}

async function reconcileCommand(name: 'apply' | 'plan', args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(name, args, name === 'apply'
    ? { ...COMMON, 'dry-run': { type: 'boolean', help: 'plan only: change nothing, as plan does' } }
    : { ...COMMON, 'exit-code': { type: 'boolean', help: 'exit 0 when in sync, 2 when something drifted (1 stays an error)' } });
  const format = outputFormat(values.output);
  const logs = logFormat(values['log-format']);
  // With JSON logs every stderr line is a JSON object, the key-file permission warning too.
  if (logs === 'json') setSecretFileWarning((message) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), event: 'warning', message })}\n`));
  const concurrency = positiveInt('concurrency', values.concurrency, 4);
  const jobs = positiveInt('jobs', values.jobs, 4);
  const specs = await loadForReconcile(positionals, transportOptions(values), { json: format === 'json' });
  if (!specs) return 1;
  const store = await Store.open(resolveStoreRoot({ store: str(values.store) }));
  const dryRun = name === 'plan' || values['dry-run'] === true;
  let outcomes;
  try {
    const report = progressReporter(logs);
    // Specs aborted by a signal are not "failed": one summary line says what happened (see stoppable).
    outcomes = await reconcileAll(specs, store, { concurrency, jobs, dryRun, onEvent: (e) => (e.kind === 'done' && isInterrupted() ? undefined : report(e)) });
  } finally {
    await closeAllClients();
  }
  // Stopped by a signal: the caller says what was written instead of a table of aborted specs.
  if (isInterrupted()) throw interruptedError();
  process.stdout.write(render(outcomes, format));
  if (format === 'table') process.stderr.write(`${summaryLine(outcomes)}\n`);
  await appendStepSummary(outcomes, `plait ${name}`);
  if (outcomes.some((o) => o.error)) return 1;
  if (name === 'plan' && values['exit-code'] === true && outcomes.some((o) => !o.plan?.inSync)) return 2;
  return 0;
}

export const apply: Command = {
  name: 'apply',
  summary: 'reconcile ManifestList specs into their destinations',
  usage: 'plait apply [flags] [PATH…]',
  description: `Each spec's list is built in the local store from its sources and pushed to its destination; only what drifted\nis written. Every spec is validated first: any problem, and nothing is touched.\n\n${PATHS}`,
  run: (a) => withJsonErrors(a, () => stoppable(() => reconcileCommand('apply', a))),
};
export const plan: Command = {
  name: 'plan',
  summary: 'show what apply would change, changing nothing',
  usage: 'plait plan [flags] [PATH…]',
  description: PATHS,
  run: (a) => withJsonErrors(a, () => stoppable(() => reconcileCommand('plan', a))),
};

async function openStore(values: Parsed['values']): Promise<Store> {
  return Store.open(resolveStoreRoot({ store: str(values.store) }));
}

export const history: Command = {
  name: 'history',
  summary: 'pushed digests of a list, newest first',
  usage: 'plait history [flags] NAME',
  description: 'NAME is the metadata.name of a spec applied with this store.',
  async run(args) {
    const { values, positionals } = parseFlags('history', args, { ...STORE, output: COMMON.output! });
    if (positionals.length !== 1) throw new PlaitError(ErrorCodes.E_INVALID, 'history: exactly one list NAME is needed');
    const store = await openStore(values);
    const rec = await store.getRecord(positionals[0]!);
    const entries = (await readHistory(store, rec.id)).reverse();
    const format = outputFormat(values.output);
    const docs = entries.map((h) => ({ digest: h.digest, pushedAt: h.pushedAt, destination: h.destination, tags: h.tags, mediaType: h.mediaType }));
    if (format === 'json') process.stdout.write(JSON.stringify(docs, null, 2) + '\n');
    else if (format === 'yaml') process.stdout.write((await import('yaml')).stringify(docs));
    else process.stdout.write(table([['PUSHED', 'DIGEST', 'DESTINATION', 'TAGS'], ...docs.map((d) => [d.pushedAt, d.digest, d.destination, d.tags.join(',')])]));
    return 0;
  },
};

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: "re-point a list's destination tags at an earlier push",
  usage: 'plait rollback [flags] NAME',
  description: 'NAME is the metadata.name of a spec applied with this store. Without --to, the push before the last one is\nchosen; the digest must still exist at the destination.',
  async run(args) {
    const { values, positionals } = parseFlags('rollback', args, {
      ...REGISTRY_FLAGS, ...STORE, to: { type: 'string', arg: 'DIGEST', help: 'the push to go back to: its digest or a prefix of its hex (see plait history)' },
    });
    if (positionals.length !== 1) throw new PlaitError(ErrorCodes.E_INVALID, 'rollback: exactly one list NAME is needed');
    const store = await openStore(values);
    const name = positionals[0]!;
    const rec = await store.getRecord(name);
    const last = (await readHistory(store, rec.id)).at(-1);
    if (!last) throw new PlaitError(ErrorCodes.E_NOT_FOUND, `${name}: nothing was pushed yet`);
    try {
      const target = await rollback(store, name, { destination: { image: last.destination, tags: last.tags }, transport: transportOptions(values) }, str(values.to));
      process.stdout.write(`${name}: ${last.tags.join(', ')} → ${target.digest} (pushed ${target.pushedAt})\n`);
    } finally {
      await closeAllClients();
    }
    return 0;
  },
};

/** For tests and scripts: read a file that may be `-`. */
export async function readInput(path: string): Promise<string> {
  if (path === '-') return readStdin();
  const { size } = await stat(path);
  if (size > MAX_SPEC_FILE_BYTES) throw new PlaitError(ErrorCodes.E_INVALID, `${path}: is ${size} bytes, more than a spec file may hold (${MAX_SPEC_FILE_BYTES / (1024 * 1024)} MiB); refused unread`);
  return readFile(path, 'utf8');
}
