import { describe, it, expect } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Helm's .Files.Get reads only inside the chart, so the chart keeps a copy of the CRD; it must stay the very bytes of
// config/crd/bases (the file kustomize applies and `npm run crd` generates).

const root = fileURLToPath(new URL('../../..', import.meta.url));
const FILE = 'plait.dev_manifestlists.yaml';

describe('the chart\'s CRD', () => {
  it('is config/crd/bases/' + FILE + ' byte for byte', async () => {
    const base = await readFile(join(root, 'config', 'crd', 'bases', FILE));
    const shipped = await readFile(join(root, 'charts', 'plait', 'files', FILE));
    expect(shipped.equals(base), `charts/plait/files/${FILE} differs from config/crd/bases: run npm run crd`).toBe(true);
  });
});
