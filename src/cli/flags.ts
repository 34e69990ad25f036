import { parseArgs } from 'node:util';
import { PlaitError, ErrorCodes } from '../errors.js';
import type { TransportOptions } from '../transports/index.js';

// Flag parsing on node:util parseArgs, with the podman/skopeo conventions it lacks: boolean flags that also take
// `=true|false` (`--tls-verify=false`), repeatable string flags, and one-line errors.

export type FlagSpec = Record<string, {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** A boolean flag that may be written `--flag=false` (podman style). */
  valued?: boolean;
  default?: string | boolean;
  /** One line: what the flag does (for --help and shell completion). */
  help?: string;
  /** The value's name in help, for string flags (DIR, FILE, N…). */
  arg?: string;
}>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseFlags(command: string, args: string[], spec: FlagSpec): Parsed {
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

/** The registry flags of podman/skopeo, on every command that talks to a registry. */
export const REGISTRY_FLAGS: FlagSpec = {
  'tls-verify': { type: 'boolean', valued: true },
  'plain-http': { type: 'boolean', valued: true },
  authfile: { type: 'string' },
  'cert-dir': { type: 'string' },
  creds: { type: 'string' },
};

export function transportOptions(values: Parsed['values']): TransportOptions {
  const o: TransportOptions = {};
  if (values['tls-verify'] === false) o.tlsVerify = false;
  if (values['plain-http'] === true) o.plainHttp = true;
  if (typeof values.authfile === 'string') o.authfile = values.authfile;
  if (typeof values['cert-dir'] === 'string') o.certDir = values['cert-dir'];
  if (typeof values.creds === 'string') o.creds = values.creds;
  return o;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
