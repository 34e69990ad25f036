import { registerCommand } from '../run.js';

// Each command module is imported only when its command runs, so start-up stays small; the summaries here are what
// `plait --help` lists without loading them.
registerCommand('apply', async () => (await import('./reconcile.js')).apply, 'reconcile ManifestList specs into their destinations');
registerCommand('plan', async () => (await import('./reconcile.js')).plan, 'show what apply would change (--exit-code: 0 in sync, 2 drift)');
registerCommand('validate', async () => (await import('./validate.js')).validate, 'check specs without touching anything');
registerCommand('watch', async () => (await import('./watch.js')).watch, 'reconcile now, on every change of the given files, and on each interval');
registerCommand('manifest', async () => (await import('./manifest.js')).manifest, 'podman/buildah-compatible list commands on the local store');
registerCommand('inspect', async () => (await import('./inspect.js')).inspect, 'print an image or list from docker:// or oci:');
registerCommand('key', async () => (await import('./key.js')).key, 'generate signing keys');
registerCommand('history', async () => (await import('./reconcile.js')).history, 'pushed digests of a list');
registerCommand('rollback', async () => (await import('./reconcile.js')).rollbackCommand, "re-point a list's tags at an earlier push");
registerCommand('import', async () => (await import('./import.js')).importCommand, "convert another tool's spec into a ManifestList");
registerCommand('completion', async () => (await import('../completion.js')).completion, 'print a shell completion script (bash, zsh, fish)');
registerCommand('controller', async () => (await import('./controller.js')).controller, 'run the Kubernetes controller for ManifestList custom resources');
