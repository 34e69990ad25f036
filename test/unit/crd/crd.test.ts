// The committed CRD is exactly what the schema gives, and it is a structural schema the apiserver can take
// (the integration test applies it to a real one).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_PATH, crdFromSchema, renderCrd } from '../../../config/crd/generate.js';
import { manifestListSchema } from '../../../src/reconcile/spec/schema.js';

type Node = Record<string, unknown>;

/** Every schema node below root, with its path. */
function* nodes(n: Node, at = ''): Generator<[string, Node]> {
  yield [at, n];
  for (const [k, v] of Object.entries((n.properties ?? {}) as Record<string, Node>)) yield* nodes(v, `${at}.${k}`);
  if (n.items) yield* nodes(n.items as Node, `${at}[]`);
  if (typeof n.additionalProperties === 'object') yield* nodes(n.additionalProperties as Node, `${at}.*`);
}

const openAPI = (crd: Node): Node =>
  ((crd.spec as { versions: Array<{ schema: { openAPIV3Schema: Node } }> }).versions[0]!.schema.openAPIV3Schema);

describe('the ManifestList CRD', () => {
  it('is committed as generated from schemas/manifestlist.schema.json (npm run crd)', () => {
    expect(readFileSync(CRD_PATH, 'utf8'), 'config/crd/bases/plait.dev_manifestlists.yaml is stale: run npm run crd').toBe(renderCrd());
  });

  it('goes stale when the schema changes', () => {
    const schema = structuredClone(manifestListSchema());
    schema.definitions!.tag!.pattern = '^[a-z]+$';
    expect(renderCrd(JSON.stringify(schema))).not.toBe(renderCrd());
  });

  it('has the names, scope, version, status subresource and printer columns', () => {
    const crd = parse(readFileSync(CRD_PATH, 'utf8')) as Node;
    expect(crd).toMatchObject({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'manifestlists.plait.dev' },
      spec: {
        group: 'plait.dev',
        scope: 'Namespaced',
        names: { kind: 'ManifestList', plural: 'manifestlists', singular: 'manifestlist', shortNames: ['ml'] },
        versions: [{
          name: 'v1alpha1', served: true, storage: true, subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Digest', type: 'string', jsonPath: '.status.digest' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        }],
      },
    });
  });

  it('is structural: one type per node, no draft-07-only keywords, bare metadata', () => {
    const root = openAPI(crdFromSchema(manifestListSchema()));
    expect((root.properties as Node).metadata).toEqual({ type: 'object' });
    const bad: string[] = [];
    for (const [at, n] of nodes(root)) {
      for (const k of ['$ref', '$schema', '$id', 'definitions', 'examples', 'uniqueItems', 'title', 'anyOf', 'oneOf', 'allOf']) {
        if (k in n) bad.push(`${at}: ${k}`);
      }
      if (n.additionalProperties !== undefined && n.properties !== undefined) bad.push(`${at}: additionalProperties beside properties`);
      if (typeof n.additionalProperties === 'boolean') bad.push(`${at}: additionalProperties: ${String(n.additionalProperties)}`);
      if (typeof n.type !== 'string' && n['x-kubernetes-preserve-unknown-fields'] !== true) bad.push(`${at}: no type`);
      // Named fields are documented (kubectl explain shows it); list items and map values are described by their parent.
      if (/\.[A-Za-z]+$/.test(at) && at !== '.metadata' && typeof n.description !== 'string') bad.push(`${at}: no description`);
    }
    expect(bad).toEqual([]);
  });

  it('says "exactly one of" and "not both" as CEL where CEL can see the fields', () => {
    const root = openAPI(crdFromSchema(manifestListSchema()));
    const rules = [...nodes(root)].flatMap(([at, n]) =>
      ((n['x-kubernetes-validations'] ?? []) as Array<{ rule: string }>).map((r) => `${at}: ${r.rule}`));
    expect(rules).toEqual([
      '.spec.signatures.sigstore[].privateKey: (has(self.file) ? 1 : 0) + (has(self.secretRef) ? 1 : 0) == 1',
      '.spec.signatures.sigstore[].passphrase: (has(self.env) ? 1 : 0) + (has(self.file) ? 1 : 0) + (has(self.secretRef) ? 1 : 0) == 1',
      '.spec.signatures.gpg[].key: (has(self.file) ? 1 : 0) + (has(self.secretRef) ? 1 : 0) == 1',
      '.spec.signatures.gpg[].passphrase: (has(self.env) ? 1 : 0) + (has(self.file) ? 1 : 0) + (has(self.secretRef) ? 1 : 0) == 1',
    ]);
    // platform is a string or a mapping, which CEL cannot see: "not both" stays an OpenAPI not there.
    const source = [...nodes(root)].find(([at]) => at === '.spec.sources[]')![1];
    expect(source.not).toEqual({ required: ['platform', 'platforms'] });
  });
});
