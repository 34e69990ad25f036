import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export interface StoreRootOptions {
  /** The `--store DIR` flag; wins over everything else. */
  store?: string;
  /** Defaults to process.env; tests pass their own. */
  env?: NodeJS.ProcessEnv;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** `--store`, else `$PLAIT_STORE`, else `$XDG_DATA_HOME/plait`, else `~/.local/share/plait`; always absolute. */
export function resolveStoreRoot(options: StoreRootOptions = {}): string {
  const env = options.env ?? process.env;
  const explicit = nonEmpty(options.store) ?? nonEmpty(env.PLAIT_STORE);
  if (explicit !== undefined) return resolve(explicit);
  // The XDG base-directory spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = nonEmpty(env.XDG_DATA_HOME);
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'plait');
  const home = nonEmpty(env.HOME) ?? homedir();
  return resolve(home, '.local', 'share', 'plait');
}
