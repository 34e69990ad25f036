import { PlaitError, ErrorCodes } from '../../errors.js';
import { importManifestTool } from '../../reconcile/import-manifest-tool.js';
import { parseFlags, str } from '../flags.js';
import type { Command } from '../run.js';
import { readInput } from './reconcile.js';

// plait import manifest-tool FILE: print the equivalent ManifestList document.

export const importCommand: Command = {
  name: 'import',
  summary: "convert another tool's spec into a ManifestList",
  usage: 'plait import manifest-tool [flags] FILE|-',
  description: "Prints a ManifestList equivalent to manifest-tool's `push from-spec` YAML.",
  async run(args) {
    const { values, positionals } = parseFlags('import', args, {
      type: { type: 'string', arg: 'docker|oci', help: 'the format of the list the spec will push' },
      name: { type: 'string', arg: 'NAME', help: "the spec's metadata.name (default: from the image name)" },
    });
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
