import { registerCommand } from '../run.js';

// Each command module is imported only when its command runs, so start-up stays small.
registerCommand('inspect', async () => (await import('./inspect.js')).inspect);
registerCommand('manifest', async () => (await import('./manifest.js')).manifest);
