import { readFile } from 'node:fs/promises';
import { PlaitError, ErrorCodes } from '../../errors.js';

// Where signing passphrases come from. A file gives its first line (as skopeo's --sign-passphrase-file reads it: the
// trailing newline is not part of the passphrase); an environment variable gives its value. Never logged.

export async function readPassphraseFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new PlaitError(ErrorCodes.E_INVALID, `${what}: cannot read passphrase file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return /^[^\r\n]*/.exec(text)![0];
}

export async function passphraseFrom(ref: { env?: string; file?: string } | undefined, what: string): Promise<string> {
  if (ref?.file !== undefined) return readPassphraseFile(ref.file, what);
  if (ref?.env !== undefined) {
    const v = process.env[ref.env];
    if (v === undefined) throw new PlaitError(ErrorCodes.E_SIGN, `${what}: environment variable ${ref.env} is not set`);
    return v;
  }
  return '';
}
