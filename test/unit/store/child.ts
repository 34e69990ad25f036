// Child process for the store tests, run as `node --import tsx child.ts <mode> <root> <id> …`. Modes:
//   append <entry>         take the list lock, read entries.json, append <entry>, write it back
//   write <item> <text>    overwrite one item (the crash test runs this with PLAIT_FAILPOINT=before-rename)
//   fact <digest> <text>  put a fact (the crash test runs this with PLAIT_FAILPOINT=before-rename)
//   create <name>          create a record of that name (the crash test runs this with PLAIT_FAILPOINT=before-record-rename)
//   hold <stale>           take the lock, print "locked", then wait until killed
//   try <timeoutMs>        try to take the lock; print {"ok":true} or the error's code/retryable/message as JSON
import { setTimeout as sleep } from 'node:timers/promises';
import { isPlaitError } from '../../../src/errors.js';
import { Store } from '../../../src/core/store/index.js';

const [mode, root, id, arg1, arg2] = process.argv.slice(2);
if (mode === undefined || root === undefined || id === undefined) throw new Error('usage: child.ts <mode> <root> <id> …');
const store = await Store.open(root);

switch (mode) {
  case 'append': {
    await store.withListLock(id, async () => {
      const bytes = await store.readItem(id, 'entries.json');
      const entries = JSON.parse(bytes?.toString('utf8') ?? '[]') as string[];
      entries.push(arg1 ?? String(process.pid));
      // Widen the read-modify-write window so a broken lock would lose entries.
      await sleep(Math.random() * 20);
      await store.writeItems(id, { 'entries.json': Buffer.from(JSON.stringify(entries)) });
    });
    break;
  }
  case 'write':
    await store.writeItems(id, { [arg1 ?? 'manifest']: Buffer.from(arg2 ?? '') });
    break;
  case 'create':
    await store.createRecord({ names: [id], items: { manifest: Buffer.from('{}'), 'instances.json': Buffer.from('{}') } });
    break;
  case 'fact':
    await store.putFact('crash-test', arg1 ?? '', { text: arg2 ?? '' });
    break;
  case 'hold':
    await store.withListLock(
      id,
      async () => {
        process.stdout.write('locked\n');
        // proper-lockfile's refresh timer is unref'd; a ref'd timer keeps the process (and so the lock) alive.
        await new Promise(() => setInterval(() => undefined, 60_000));
      },
      { stale: Number(arg1 ?? 30000) },
    );
    break;
  case 'try':
    try {
      await store.withListLock(id, () => undefined, { timeoutMs: Number(arg1 ?? 0) });
      process.stdout.write(JSON.stringify({ ok: true }) + '\n');
    } catch (e) {
      if (!isPlaitError(e)) throw e;
      process.stdout.write(JSON.stringify({ ok: false, code: e.code, retryable: e.retryable, message: e.message }) + '\n');
    }
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
