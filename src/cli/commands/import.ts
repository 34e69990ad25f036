import { PlaitError, ErrorCodes } from '../../errors.js';
import { importManifestTool } from '../../reconcile/import-manifest-tool.js';
import { parseFlags, str } from '../flags.js';
import type { Command } from '../run.js';
import { readInput } from './reconcile.js';

// plait import manifest-tool FILE: print the equivalent ManifestList document.

export const importCommand: Command = {
  name: 'import',
  summary: "convert another tool's spec into a ManifestList",
  async run(args) {
    const { values, positionals } = parseFlags('import', args, { type: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
    if (values.help) {
      process.stdout.write('Usage: plait import manifest-tool FILE|- [--type docker|oci] [--name NAME]\n\nPrints a ManifestList equivalent to manifest-tool\'s `push from-spec` YAML.\n');
      return 0;
    }
    const [tool, file] = positionals;
    if (tool !== 'manifest-tool' || file === undefined || positionals.length !== 2) {
      throw new PlaitError(ErrorCodes.E_INVALID, 'import: usage: plait import manifest-tool FILE');
    }
    const type = str(values.type);
    if (type !== undefined && type !== 'docker' && type !== 'oci') throw new PlaitError(ErrorCodes.E_INVALID, '--type must be docker or oci');
    let text: string;
    try {
      text = await readInput(file);
    } catch (e) {
      throw new PlaitError(ErrorCodes.E_INVALID, `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    process.stdout.write(importManifestTool(text, file, { ...(type && { type }), ...(str(values.name) && { name: str(values.name) }) }));
    return 0;
  },
};
