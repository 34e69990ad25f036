import type { FlagDef, FlagSpec } from './flags.js';

// --help text, generated from the flag table a command parses with (see HelpRequest), so that every flag it takes is
// explained and none it does not take is advertised.

export interface HelpTopic {
  /** `plait watch [flags] [PATH…]` */
  usage: string;
  /** One line: what the command does. */
  summary: string;
  /** More prose, paragraphs separated by blank lines. */
  description?: string;
}

/** `-o, --output FORMAT`, `--tls-verify[=false]`, `--annotation K=V`. */
export function flagSynopsis(name: string, def: FlagDef): string {
  const short = def.short !== undefined ? `-${def.short}, ` : '    ';
  let long = `--${name}`;
  if (def.type === 'boolean' && def.valued) long += `[=${def.default === true ? 'false' : 'true|false'}]`;
  else if (def.type === 'string') long += ` ${def.arg ?? 'VALUE'}`;
  return short + long;
}

function flagNote(def: FlagDef): string {
  const notes: string[] = [];
  if (def.multiple && !(def.help ?? '').includes('repeatable')) notes.push('repeatable');
  // Tables that name their default in the help line already are not told it twice.
  if (typeof def.default === 'string' && def.default !== '' && !(def.help ?? '').includes('default')) notes.push(`default ${def.default}`);
  return notes.length > 0 ? ` (${notes.join('; ')})` : '';
}

/** The "Flags:" section: one line per flag, `-h, --help` last. */
export function flagLines(spec: FlagSpec): string {
  const entries = Object.entries(spec).sort(([a], [b]) => (a === 'help' ? 1 : b === 'help' ? -1 : 0));
  const left = entries.map(([name, def]) => flagSynopsis(name, def));
  const width = Math.min(34, Math.max(...left.map((l) => l.length)));
  return entries
    .map(([, def], i) => {
      const l = left[i]!;
      const text = `${def.help ?? ''}${flagNote(def)}`;
      return l.length > width ? `  ${l}\n  ${' '.repeat(width)}  ${text}` : `  ${l.padEnd(width)}  ${text}`;
    })
    .join('\n');
}

/** Help for one command or subcommand. */
export function formatHelp(topic: HelpTopic, spec: FlagSpec, subcommands?: Record<string, HelpTopic>): string {
  const parts = [`Usage: ${topic.usage}`, topic.summary.charAt(0).toUpperCase() + topic.summary.slice(1) + '.'];
  if (topic.description !== undefined) parts.push(topic.description.trimEnd());
  if (subcommands !== undefined) {
    const names = Object.keys(subcommands);
    const width = Math.max(...names.map((n) => n.length));
    parts.push(`Commands:\n${names.map((n) => `  ${n.padEnd(width)}  ${subcommands[n]!.summary}`).join('\n')}`);
  }
  parts.push(`Flags:\n${flagLines(spec)}`);
  return `${parts.join('\n\n')}\n`;
}
