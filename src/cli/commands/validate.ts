import { ErrorCodes, PlaitError } from '../../errors.js';
import { loadSpecs, readSpecStream, skippedNote } from '../../reconcile/spec/index.js';
import { parseFlags } from '../flags.js';
import type { Command } from '../run.js';
import { jsonError, withJsonErrors, writeResult } from '../output.js';

// `plait validate`: load and check specs without touching a registry or the store. It imports only the spec layer
// (yaml, ajv and the pure OCI model), so that it starts fast enough for editor hooks and pre-commit.

const DESCRIPTION = `Checks YAML syntax, the schema, references, platforms, conflicts between sources, compression, key files and
passphrase sources, intervals, sizes, and names unique across all documents. Nothing is contacted or written.

PATH is a file, a directory (every *.yaml and *.yml below it, dot-directories and node_modules skipped) or - for
standard input; the default is the current directory. A file may hold several documents separated by ---; objects
of other APIs (a Deployment, a Kustomization) are skipped, and a PATH without any ManifestList is a problem. A spec
file (or standard input) may hold at most 1 MiB, all of them together 16 MiB, and a spec's annotations 64 KiB.

Each problem is printed on one line to stderr, FILE:LINE:COL: PATH: message, and the exit status is 1.
Otherwise "N specs valid" is printed and the exit status is 0.`;


export const validate: Command = {
  name: 'validate',
  summary: 'check specs without touching anything',
  usage: 'plait validate [flags] [PATH…]',
  description: DESCRIPTION,
  run: (args) => withJsonErrors(args, () => runValidate(args)),
};

async function runValidate(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('validate', args, {
    context: { type: 'string', default: 'cli', arg: 'cli|controller', help: 'check as the CLI does (secretRefs refused) or as the controller does' },
    output: { type: 'string', short: 'o', help: 'text (default) or json: a summary or the problems as one JSON document on stdout', arg: 'FORMAT' },
  });
  const context = values.context;
  if (context !== 'cli' && context !== 'controller') {
    throw new PlaitError(ErrorCodes.E_INVALID, `validate: --context takes cli or controller, not ${JSON.stringify(context)}`);
  }
  const format = values.output ?? 'text';
  if (format !== 'text' && format !== 'json') {
    throw new PlaitError(ErrorCodes.E_INVALID, `validate: -o takes text or json, not ${JSON.stringify(format)}`);
  }
  const paths = positionals.length > 0 ? positionals : ['.'];
  const stdin = paths.includes('-') ? await readSpecStream(process.stdin as AsyncIterable<Buffer>) : undefined;
  const { specs, problems, skipped } = await loadSpecs(paths, { context, ...(stdin !== undefined && { stdin }) });
  const note = skippedNote(skipped);
  if (note !== undefined) process.stderr.write(`${note}\n`);
  if (problems.length > 0) {
    process.stderr.write(problems.map(String).join('\n') + '\n');
    if (format === 'json') {
      process.stdout.write(jsonError(ErrorCodes.E_SPEC_INVALID, String(problems[0]), {
        problems: problems.map((p) => ({ file: p.file, line: p.line, col: p.col, path: p.path, message: p.message })),
      }));
    }
    return 1;
  }
  if (format === 'json') {
    writeResult(JSON.stringify({ valid: specs.length, specs: specs.map((s) => ({ name: s.name, file: s.file, index: s.index })) }, null, 2) + '\n');
  } else {
    writeResult(`${specs.length} ${specs.length === 1 ? 'spec' : 'specs'} valid\n`);
  }
  return 0;
}
