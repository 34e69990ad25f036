import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

// ManifestList documents for plait apply, written as plain YAML (flow style where it keeps a document short).

export interface SpecInput {
  name: string;
  /** host:port/repo (no tag). */
  destination: string;
  tags: string[];
  sources: string[];
  variants?: string[];
}

export function specYaml(s: SpecInput): string {
  const lines = [
    'apiVersion: plait.dev/v1alpha1',
    'kind: ManifestList',
    `metadata: {name: ${s.name}}`,
    'spec:',
    `  destination: {image: ${s.destination}, tags: [${s.tags.join(', ')}]}`,
    '  sources:',
    ...s.sources.map((src) => `    - image: ${src}`),
  ];
  if (s.variants && s.variants.length > 0) lines.push('  compression:', `    variants: [${s.variants.join(', ')}]`);
  return lines.join('\n') + '\n';
}

/** Write one file holding all documents, separated by ---. */
export async function writeSpecs(file: string, specs: SpecInput[]): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, specs.map(specYaml).join('---\n'));
  return file;
}
