import { asPlaitError, ErrorCodes, PlaitError } from '../errors.js';
import { VERSION } from '../version.js';
import { HELP_FLAG, HelpRequest } from './flags.js';
import { formatHelp } from './help.js';
import type { HelpTopic } from './help.js';

export interface Command {
  name: string;
  /** One line: what the command does. */
  summary: string;
  /** `plait NAME [flags] …`; default `plait NAME [flags]`. */
  usage?: string;
  /** More prose for --help. */
  description?: string;
  /** Commands that dispatch on their first argument (`plait manifest add`), for help and completion. */
  subcommands?: Record<string, HelpTopic>;
  /** Asked for help (-h, --help anywhere before `--`), it throws the HelpRequest of parseFlags. */
  run(args: string[]): Promise<number>;
}

interface Registered {
  load: () => Promise<Command>;
  summary?: string;
}

const commands = new Map<string, Registered>();

/**
 * Commands are loaded lazily so that `plait validate` does not pay for the registry client or the controller. The
 * summary, when given, lets `plait --help` list the command without loading it.
 */
export function registerCommand(name: string, load: () => Promise<Command>, summary?: string): void {
  commands.set(name, { load, ...(summary !== undefined && { summary }) });
}

export function commandNames(): string[] {
  return [...commands.keys()];
}

export async function loadCommand(name: string): Promise<Command> {
  const c = commands.get(name);
  if (!c) throw new PlaitError(ErrorCodes.E_INVALID, `unknown command "${name}" (see plait --help)`);
  return c.load();
}

/** `plait --help`: every registered command with its summary. */
export async function usage(): Promise<string> {
  const rows: [string, string][] = [];
  for (const [name, c] of commands) rows.push([name, c.summary ?? (await c.load()).summary]);
  rows.push(['help', 'help for a command: plait help CMD [SUBCOMMAND] (or plait CMD --help)'], ['version', 'print the version']);
  const width = Math.max(...rows.map(([n]) => n.length));
  return `plait ${VERSION} — declarative multi-arch manifest lists

Usage: plait <command> [flags]

Commands:
${rows.map(([n, s]) => `  ${n.padEnd(width)}  ${s}`).join('\n')}

Flags:
  -h, --help     print this help and exit
  --version      print the version

Every command and subcommand takes -h/--help.
`;
}

/** The help text for a HelpRequest thrown by `cmd`. */
export function helpText(cmd: Command, req: HelpRequest): string {
  const sub = req.command.split(' ')[1];
  const topic = sub !== undefined ? cmd.subcommands?.[sub] : undefined;
  if (topic !== undefined) return formatHelp(topic, req.spec);
  if (cmd.subcommands !== undefined) {
    // The overview of a command that dispatches: its subcommands; their flags are in their own help.
    return formatHelp({ usage: cmd.usage ?? `plait ${cmd.name} <command> [flags]`, summary: cmd.summary, ...(cmd.description !== undefined && { description: cmd.description }) }, HELP_FLAG, cmd.subcommands);
  }
  return formatHelp({ usage: cmd.usage ?? `plait ${cmd.name} [flags]`, summary: cmd.summary, ...(cmd.description !== undefined && { description: cmd.description }) }, req.spec);
}

export async function run(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || (first === 'help' && rest.length === 0)) {
    process.stdout.write(await usage());
    return 0;
  }
  if (first === '--version' || first === 'version') {
    process.stdout.write(`plait version ${VERSION}\n`);
    return 0;
  }
  // `plait help manifest add` is `plait manifest add --help`.
  const [name, args] = first === 'help' ? [rest[0]!, [...rest.slice(1), '--help']] : [first, rest];
  const registered = commands.get(name);
  if (!registered) {
    process.stderr.write(`plait: unknown command "${name}" (see plait --help)\n`);
    return 1;
  }
  let cmd: Command | undefined;
  try {
    cmd = await registered.load();
    return await cmd.run(args);
  } catch (e) {
    if (e instanceof HelpRequest && cmd !== undefined) {
      process.stdout.write(helpText(cmd, e));
      return 0;
    }
    const err = asPlaitError(e);
    process.stderr.write(`plait: ${err.message}\n`);
    if (process.env.PLAIT_DEBUG === '1' && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
