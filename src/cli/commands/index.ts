import { registerCommand } from '../run.js';

// Each command module is imported only when its command runs, so start-up stays small.
registerCommand('inspect', async () => (await import('./inspect.js')).inspect);
registerCommand('manifest', async () => (await import('./manifest.js')).manifest);
registerCommand('key', async () => (await import('./key.js')).key);
registerCommand('validate', async () => (await import('./validate.js')).validate);
registerCommand('apply', async () => (await import('./reconcile.js')).apply);
registerCommand('plan', async () => (await import('./reconcile.js')).plan);
registerCommand('history', async () => (await import('./reconcile.js')).history);
registerCommand('rollback', async () => (await import('./reconcile.js')).rollbackCommand);
registerCommand('watch', async () => (await import('./watch.js')).watch);
registerCommand('import', async () => (await import('./import.js')).importCommand);
registerCommand('controller', async () => (await import('./controller.js')).controller);
