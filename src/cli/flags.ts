import { PlaitError, ErrorCodes } from '../errors.js';
import type { TransportOptions } from '../transports/index.js';
// Straight from hosts.ts: this module is loaded by `validate` too, which must not load the registry client.
import type { RegistrySettings } from '../transports/registry/hosts.js';

// Taken from process.getBuiltinModule, not imported: Node's ES module of node:util reads every export, and on Node 24
// that materialises util's lazily made parts (colours, diffs, SIGINT tracing with worker_threads behind it), ~1.5 MiB
// of resident memory for every command. The same goes for the other node:util users.
const { parseArgs } = process.getBuiltinModule('node:util');

// Flag parsing on node:util parseArgs, with the podman/skopeo conventions it lacks: boolean flags that also take
// `=true|false` (`--tls-verify=false`), repeatable string flags, and one-line errors.

export interface FlagDef {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** A boolean flag that may be written `--flag=false` (podman style). */
  valued?: boolean;
  default?: string | boolean;
  /** One line for --help and shell completion: what the flag does. */
  help?: string;
  /** The value's name in --help, for string flags (`DIR`, `FILE`, `N`). */
  arg?: string;
}

export type FlagSpec = Record<string, FlagDef>;

/** `-h`/`--help`, which every command and subcommand takes. */
export const HELP_FLAG: FlagSpec = { help: { type: 'boolean', short: 'h', help: 'print this help and exit' } };

/**
 * Thrown by parseFlags when the arguments ask for help, carrying the exact flag table the command parses with: the
 * help text (and shell completion) is generated from it, so a flag cannot be parsed yet go unmentioned.
 */
export class HelpRequest extends Error {
  constructor(
    /** The command as parseFlags was told it: `watch`, `manifest add`. */
    readonly command: string,
    readonly spec: FlagSpec,
  ) {
    super(`${command}: help`);
  }
}

/** Whether the arguments ask for help (before a `--`, after which everything is a positional). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '-h' || a === '--help') return true;
  }
  return false;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseFlags(command: string, args: string[], table: FlagSpec): Parsed {
  const spec: FlagSpec = { ...table, ...HELP_FLAG };
  if (wantsHelp(args)) throw new HelpRequest(command, spec);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  const valued = new Set<string>();
  for (const [name, s] of Object.entries(spec)) {
    if (s.type === 'boolean' && s.valued) {
      valued.add(name);
      options[name] = { type: 'string', ...(s.short && { short: s.short }) };
    } else {
      options[name] = { type: s.type, ...(s.short && { short: s.short }), ...(s.multiple && { multiple: true }) };
    }
  }
  // `--tls-verify` alone means true; parseArgs would want a value for a string option.
  const argv = args.map((a) => (a.startsWith('--') && valued.has(a.slice(2)) ? `${a}=true` : a));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new PlaitError(ErrorCodes.E_INVALID, `${command}: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
  const values: Parsed['values'] = {};
  for (const [name, s] of Object.entries(spec)) {
    let v = parsed.values[name] as string | boolean | string[] | undefined;
    if (valued.has(name) && typeof v === 'string') {
      if (v !== 'true' && v !== 'false') throw new PlaitError(ErrorCodes.E_INVALID, `${command}: --${name} takes true or false, not "${v}"`);
      v = v === 'true';
    }
    values[name] = v ?? s.default;
  }
  return { values, positionals: parsed.positionals };
}

/** The registry flags of podman/skopeo, on every command that talks to a registry. Un-prefixed: both sides. */
export const REGISTRY_FLAGS: FlagSpec = {
  'tls-verify': { type: 'boolean', valued: true, help: 'require HTTPS and verify certificates (=false: skip verification, fall back to HTTP)' },
  'plain-http': { type: 'boolean', valued: true, help: 'speak plain HTTP to the registry' },
  authfile: { type: 'string', arg: 'FILE', help: 'auth file with per-registry credentials (default: the containers/docker ones)' },
  'cert-dir': { type: 'string', arg: 'DIR', help: 'use the CAs (*.crt) and client certificate (*.cert, *.key) in DIR' },
  creds: { type: 'string', arg: 'USER:PASS', help: 'credentials for the one registry the command reaches (refused if it reaches two)' },
};

const SIDE_HELP = { src: ['the sources', "the sources'"], dest: ['the destination', "the destination's"] } as const;

function sideFlags(side: 'src' | 'dest'): FlagSpec {
  const [who, whose] = SIDE_HELP[side];
  return {
    [`${side}-tls-verify`]: { type: 'boolean', valued: true, help: `like --tls-verify, for ${who} only` },
    [`${side}-plain-http`]: { type: 'boolean', valued: true, help: `like --plain-http, for ${who} only` },
    [`${side}-authfile`]: { type: 'string', arg: 'FILE', help: `like --authfile, for ${who} only` },
    [`${side}-cert-dir`]: { type: 'string', arg: 'DIR', help: `like --cert-dir, for ${who} only` },
    [`${side}-creds`]: { type: 'string', arg: 'USER:PASS', help: `credentials for ${whose} registry only (refused if ${side === 'src' ? 'the sources span' : 'the destinations span'} two registries)` },
  };
}

/** skopeo-style per-side flags, for commands that read sources and write a destination (apply, plan, watch, push). */
export const SIDE_REGISTRY_FLAGS: FlagSpec = { ...sideFlags('src'), ...sideFlags('dest') };

function registrySettings(values: Parsed['values'], prefix: string): RegistrySettings {
  const o: RegistrySettings = {};
  const tls = values[`${prefix}tls-verify`];
  const plain = values[`${prefix}plain-http`];
  if (typeof tls === 'boolean') o.tlsVerify = tls;
  if (typeof plain === 'boolean') o.plainHttp = plain;
  if (typeof values[`${prefix}authfile`] === 'string') o.authfile = values[`${prefix}authfile`] as string;
  if (typeof values[`${prefix}cert-dir`] === 'string') o.certDir = values[`${prefix}cert-dir`] as string;
  if (typeof values[`${prefix}creds`] === 'string') o.creds = values[`${prefix}creds`] as string;
  return o;
}

/**
 * The registry flags as transport options: un-prefixed ones for both sides, --src-…/--dest-… (when the command has
 * them) for theirs. Flag credentials are bound to one registry each (see transports/registry/hosts.ts).
 */
export function transportOptions(values: Parsed['values']): TransportOptions {
  const o: TransportOptions = { ...registrySettings(values, ''), binding: new Map() };
  if (Object.keys(values).some((k) => k.startsWith('src-') || k.startsWith('dest-'))) {
    o.sideFlags = true;
    o.source = registrySettings(values, 'src-');
    o.destination = registrySettings(values, 'dest-');
  }
  return o;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
