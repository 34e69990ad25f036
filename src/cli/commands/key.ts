import { open, lstat, unlink } from 'node:fs/promises';
import { PlaitError, ErrorCodes } from '../../errors.js';
import { generateCosignKeyPair } from '../../core/sign/cosign-key.js';
import { readPassphraseFile } from '../../core/sign/passphrase.js';
import { parseFlags, str } from '../flags.js';
import type { Command } from '../run.js';

const GENERATE = `Writes P.key, the private key encrypted with the passphrase (ENCRYPTED COSIGN PRIVATE KEY, scrypt N=32768,
readable by cosign and by skopeo/podman), and P.pub, the public key for policy.json ("sigstoreSigned", keyPath).
Existing files are never overwritten.

The passphrase is read from --passphrase-file (its first line), else from PLAIT_PASSPHRASE, else asked for twice
on the terminal.`;

export const key: Command = {
  name: 'key',
  summary: 'generate signing keys',
  subcommands: {
    generate: { usage: 'plait key generate [--prefix P] [--passphrase-file FILE]', summary: 'generate a sigstore (cosign-format) ECDSA P-256 key pair', description: GENERATE },
  },
  async run(args) {
    const { values, positionals } = parseFlags(args[0] === 'generate' ? 'key generate' : 'key', args, {
      prefix: { type: 'string', default: 'cosign', arg: 'P', help: 'file name prefix: P.key and P.pub' },
      'passphrase-file': { type: 'string', arg: 'FILE', help: 'read the passphrase from the first line of FILE' },
    });
    if (positionals[0] !== 'generate' || positionals.length !== 1) {
      throw new PlaitError(ErrorCodes.E_INVALID, positionals.length === 0 ? 'key: a subcommand is needed: generate' : `key: unknown arguments ${positionals.join(' ')} (only "generate")`);
    }
    const prefix = str(values.prefix) ?? 'cosign';
    if (prefix === '') throw new PlaitError(ErrorCodes.E_INVALID, 'key generate: --prefix must not be empty');
    const keyFile = `${prefix}.key`;
    const pubFile = `${prefix}.pub`;
    // Refuse before asking for a passphrase: nothing is worse than typing it twice for nothing.
    for (const f of [keyFile, pubFile]) {
      if (await exists(f)) throw new PlaitError(ErrorCodes.E_INVALID, `key generate: ${f} already exists; refusing to overwrite it`);
    }
    const passphrase = await readPassphrase(str(values['passphrase-file']));
    const pair = await generateCosignKeyPair(passphrase);
    await writeNew(keyFile, pair.privatePem, 0o600);
    try {
      await writeNew(pubFile, pair.publicPem, 0o644);
    } catch (e) {
      await unlink(keyFile).catch(() => undefined);
      throw e;
    }
    process.stdout.write(`Private key written to ${keyFile}\nPublic key written to ${pubFile}\n`);
    return 0;
  },
};

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Create `path` exclusively (O_EXCL): a file that appeared since the check is not overwritten either. */
async function writeNew(path: string, data: string, mode: number): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'wx', mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new PlaitError(ErrorCodes.E_INVALID, `key generate: ${path} already exists; refusing to overwrite it`);
    throw new PlaitError(ErrorCodes.E_INVALID, `key generate: cannot create ${path}: ${code ?? (e as Error).message}`, { cause: e });
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readPassphrase(file: string | undefined): Promise<string> {
  if (file !== undefined) return readPassphraseFile(file, 'key generate');
  const env = process.env.PLAIT_PASSPHRASE;
  if (env !== undefined) return env;
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const first = await promptHidden('Enter password for private key: ');
    const second = await promptHidden('Enter password for private key again: ');
    if (first !== second) throw new PlaitError(ErrorCodes.E_INVALID, 'key generate: the passphrases do not match');
    return first;
  }
  throw new PlaitError(ErrorCodes.E_INVALID, 'no passphrase: use --passphrase-file or PLAIT_PASSPHRASE');
}

/** Read one line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(buf);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new PlaitError(ErrorCodes.E_INVALID, 'key generate: cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') {
          buf = Array.from(buf).slice(0, -1).join('');
        } else {
          buf += ch;
        }
      }
    };
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
