import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ErrorCodes, PlaitError } from '../../errors.js';
import type { ErrorCode } from '../../errors.js';

// Reading the files that hold secrets: private keys and passphrase files. Two rules, as ssh and gpg apply them:
// a regular file that its group or others may access gets one warning line naming the file, its mode and the fix
// (the read still goes ahead — a key in a mounted volume may have no other choice); and no read is unbounded, so
// `--sign-passphrase-file /dev/zero` or a multi-gigabyte "key" is refused in one line instead of eating memory.

/** Cosign keys are under 1 KiB and armoured OpenPGP keys a few KiB; even a key with photo IDs fits. */
export const MAX_KEY_FILE_BYTES = 1024 * 1024;
/** Only the first line of a passphrase file counts; nothing sensible is longer than this. */
export const MAX_PASSPHRASE_FILE_BYTES = 64 * 1024;

export type SecretFileWarning = (message: string) => void;

const toStderr: SecretFileWarning = (message) => {
  process.stderr.write(`plait: warning: ${message}\n`);
};
let warn: SecretFileWarning = toStderr;
const warned = new Set<string>();

/**
 * Where permission warnings go: stderr as `plait: warning: …` unless a command routes them elsewhere (a JSON log).
 * Returns the previous sink. Each file is warned about once per process.
 */
export function setSecretFileWarning(fn: SecretFileWarning | undefined): SecretFileWarning {
  const prev = warn;
  warn = fn ?? toStderr;
  return prev;
}

/** The warning for `mode`, or undefined when only the owner may access the file. */
export function permissionWarning(file: string, mode: number): string | undefined {
  const loose = mode & 0o077;
  if (loose === 0) return undefined;
  const who = [(loose & 0o070) !== 0 && 'its group', (loose & 0o007) !== 0 && 'others'].filter(Boolean).join(' and ');
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `${file} has mode ${octal}: ${who} can access this secret; make it private with: chmod 600 ${file}`;
}

export interface ReadSecretFileOptions {
  /** What the file is, for messages ("key file", "passphrase file"). */
  kind: string;
  /** Prefix of every message (a flag or a spec path); the file name follows. */
  what?: string;
  maxBytes: number;
  code?: ErrorCode;
}

/**
 * The bytes of a secret file, read at most `maxBytes` (larger → one-line error). Warns once when the file is a
 * regular file with group/other permission bits. Pipes and devices (`/dev/stdin`) are read but not warned about.
 */
export async function readSecretFile(file: string, opts: ReadSecretFileOptions): Promise<Buffer> {
  const code = opts.code ?? ErrorCodes.E_INVALID;
  const prefix = opts.what !== undefined ? `${opts.what}: ` : '';
  const fail = (why: string, cause?: unknown) =>
    new PlaitError(code, `${prefix}cannot read ${opts.kind} ${file}: ${why}`, { ...(cause !== undefined && { cause }) });
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw fail((e as NodeJS.ErrnoException).code ?? (e as Error).message, e);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw fail('it is a directory');
    if (st.isFile()) {
      const message = permissionWarning(file, st.mode);
      const id = resolve(file);
      if (message !== undefined && !warned.has(id)) {
        warned.add(id);
        warn(message);
      }
      if (st.size > opts.maxBytes) throw fail(`it is larger than ${opts.maxBytes} bytes, so it is not a ${opts.kind}`);
    }
    // Read in chunks up to one byte past the limit: a device or pipe says nothing about its size in advance.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.min(64 * 1024, opts.maxBytes + 1 - total));
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (e) {
        throw fail((e as NodeJS.ErrnoException).code ?? (e as Error).message, e);
      }
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > opts.maxBytes) throw fail(`it is larger than ${opts.maxBytes} bytes, so it is not a ${opts.kind}`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}
