import { PlaitError, ErrorCodes } from '../../errors.js';
import { MAX_PASSPHRASE_FILE_BYTES, readSecretFile } from './key-file.js';

// Where signing passphrases come from. A file gives its first line (as skopeo's --sign-passphrase-file reads it: the
// trailing newline is not part of the passphrase); an environment variable gives its value. Never logged.

export async function readPassphraseFile(file: string, what: string): Promise<string> {
  const text = (await readSecretFile(file, { kind: 'passphrase file', what, maxBytes: MAX_PASSPHRASE_FILE_BYTES })).toString('utf8');
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
