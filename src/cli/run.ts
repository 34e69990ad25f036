import { asPlaitError } from '../errors.js';
import { VERSION } from '../version.js';

export interface Command {
  name: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

const commands = new Map<string, () => Promise<Command>>();

/** Commands are loaded lazily so that `plait validate` does not pay for the registry client or the controller. */
export function registerCommand(name: string, load: () => Promise<Command>): void {
  commands.set(name, load);
}

export const USAGE = `plait ${VERSION} — declarative multi-arch manifest lists

Usage: plait <command> [flags]

Commands:
  apply      reconcile ManifestList specs into their destinations
  plan       show what apply would change (--exit-code: 0 in sync, 2 drift)
  validate   check specs without touching anything
  watch      reconcile on every change of the given files
  manifest   podman/buildah-compatible list commands on the local store
  inspect    print an image or list from docker:// or oci:
  key        generate signing keys
  history    pushed digests of a list
  rollback   re-point a list's tags at an earlier push
  import     convert another tool's spec into a ManifestList
  controller run the Kubernetes controller

Flags:
  -h, --help     this text
  --version      print the version
`;

export async function run(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (first === '--version' || first === 'version') {
    process.stdout.write(`plait version ${VERSION}\n`);
    return 0;
  }
  const load = commands.get(first);
  if (!load) {
    process.stderr.write(`plait: unknown command "${first}" (see plait --help)\n`);
    return 1;
  }
  try {
    const cmd = await load();
    return await cmd.run(rest);
  } catch (e) {
    const err = asPlaitError(e);
    process.stderr.write(`plait: ${err.message}\n`);
    if (process.env.PLAIT_DEBUG === '1' && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
