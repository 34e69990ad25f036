import { ErrorCodes, PlaitError } from '../../errors.js';
import { loadSpecs, readSpecStream, skippedNote } from '../../reconcile/spec/index.js';
import { parseFlags } from '../flags.js';
import type { Command } from '../run.js';
import { jsonError, withJsonErrors } from '../output.js';

// `plait validate`: load and check specs without touching a registry or the store. It imports only the spec layer
// (yaml, ajv and the pure OCI model), so that it starts fast enough for editor hooks and pre-commit.

const HELP = `Usage: plait validate [flags] [PATH…]

Check ManifestList specs: YAML syntax, the schema, references, platforms, conflicts between sources, compression,
key files and passphrase sources, intervals, and names unique across all documents. Nothing is contacted or written.

PATH is a file, a directory (every *.yaml and *.yml below it, dot-directories and node_modules skipped) or - for
standard input; the default is the current directory. A file may hold several documents separated by ---.

Each problem is printed on one line to stderr, FILE:LINE:COL: PATH: message, and the exit status is 1.
Otherwise "N specs valid" is printed and the exit status is 0.

Flags:
  --context cli|controller  check as the CLI (default: secretRefs are refused) or as the controller would
  -o, --output text|json    json: print {"valid":N,"specs":[…]} on stdout, or {"error":{…,"problems":[…]}} when not valid
`;


export const validate: Command = {
  name: 'validate',
  summary: 'check specs without touching anything',
  run: (args) => withJsonErrors(args, () => runValidate(args)),
};

async function runValidate(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('validate', args, {
    context: { type: 'string', default: 'cli' },
    output: { type: 'string', short: 'o', help: 'text (default) or json: a summary or the problems as one JSON document on stdout', arg: 'FORMAT' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
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
    process.stdout.write(JSON.stringify({ valid: specs.length, specs: specs.map((s) => ({ name: s.name, file: s.file, index: s.index })) }, null, 2) + '\n');
  } else {
    process.stdout.write(`${specs.length} ${specs.length === 1 ? 'spec' : 'specs'} valid\n`);
  }
  return 0;
}
