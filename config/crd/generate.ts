// The ManifestList CRD, generated from the one schema (schemas/manifestlist.schema.json) so that the file the CLI
// validates and the custom resource the apiserver validates cannot drift apart.
//
//   npm run crd              # writes config/crd/bases/plait.dev_manifestlists.yaml
//   npm run crd -- --check   # exits 1 when the committed file is not what the schema gives
//
// Draft-07 becomes a structural OpenAPI v3 schema: $refs are inlined, what CRDs refuse is dropped ($schema,
// definitions, additionalProperties:false beside properties, uniqueItems, examples → example), and the rules the
// apiserver cannot say in OpenAPI become CEL (x-kubernetes-validations): "exactly one of" (min/maxProperties 1) and
// "not both" (not + required). Checks no schema can say (references, platform aliases, conflicts, files) stay in
// plait's own validation, which the controller runs on every resource.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { deref } from '../../src/reconcile/spec/schema.js';
import type { JsonSchema } from '../../src/reconcile/spec/schema.js';

export const CRD_PATH = fileURLToPath(new URL('./bases/plait.dev_manifestlists.yaml', import.meta.url));
/** The Helm chart ships the same bytes (Helm cannot read files outside the chart). */
export const CHART_CRD_PATH = fileURLToPath(new URL('../../charts/plait/files/plait.dev_manifestlists.yaml', import.meta.url));
const SCHEMA_FILE = fileURLToPath(new URL('../../schemas/manifestlist.schema.json', import.meta.url));

type Props = Record<string, unknown>;

// Kubernetes list semantics that JSON Schema has no word for: conditions are a map keyed by type (metav1.Condition).
const LIST_MAP_KEYS: Readonly<Record<string, string[]>> = { 'status.conditions': ['type'] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One draft-07 node as a structural schema node. */
function convert(input: JsonSchema, root: JsonSchema, at: string): Props {
  const s = deref(input, root);
  const out: Props = {};
  const rules: Array<{ rule: string; message: string }> = [];
  if (typeof s.description === 'string') out.description = s.description;

  const union = Array.isArray(s.type);
  if (union && [...(s.type as string[])].sort().join(',') !== 'object,string') {
    throw new Error(`crd: ${at}: only a string-or-object union can be converted`);
  }
  // Structural schemas give a node one type. The string-or-mapping platform stays an untyped node whose unknown
  // fields are kept: the apiserver still applies pattern to the string form and required and properties to the
  // mapping form (each keyword only checks values of its own type). CEL cannot see untyped nodes at all.
  if (union) out['x-kubernetes-preserve-unknown-fields'] = true;
  else if (typeof s.type === 'string') out.type = s.type;
  for (const k of ['format', 'enum', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems'] as const) {
    if (s[k] !== undefined) out[k] = s[k];
  }
  if (s.properties !== undefined) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, convert(v, root, `${at}.${k}`)]));
  }
  if (isObject(s.additionalProperties)) out.additionalProperties = convert(s.additionalProperties, root, `${at}.*`);
  if (s.items !== undefined) out.items = convert(s.items, root, `${at}[]`);
  if (s.required !== undefined && s.required.length > 0) out.required = [...s.required];

  // "exactly one of": minProperties and maxProperties 1 over a closed set of properties.
  if (s.minProperties === 1 && s.maxProperties === 1 && s.properties !== undefined && s.additionalProperties === false) {
    const names = Object.keys(s.properties);
    rules.push({
      rule: `${names.map((n) => `(has(self.${n}) ? 1 : 0)`).join(' + ')} == 1`,
      message: `exactly one of ${names.join(', ')} must be set`,
    });
  } else if (s.minProperties !== undefined || s.maxProperties !== undefined) {
    if (s.minProperties !== undefined) out.minProperties = s.minProperties;
    if (s.maxProperties !== undefined) out.maxProperties = s.maxProperties;
  }
  // "not both": not { required: [a, b] } becomes CEL, or stays an OpenAPI not where CEL cannot see a field.
  if (isObject(s.not)) {
    const req = (s.not as JsonSchema).required;
    if (req === undefined || req.length < 2) throw new Error(`crd: ${at}: only not { required: [...] } can be converted`);
    const celVisible = req.every((n) => {
      const p = s.properties?.[n];
      return p !== undefined && !Array.isArray(deref(p, root).type);
    });
    if (celVisible) {
      const notDescription = (s.not as JsonSchema).description;
      rules.push({
        rule: `!(${req.map((n) => `has(self.${n})`).join(' && ')})`,
        message: typeof notDescription === 'string' ? notDescription : `${req.join(' and ')} exclude each other`,
      });
    } else {
      out.not = { required: [...req] };
    }
  }
  if (s.uniqueItems === true) {
    const items = s.items !== undefined ? deref(s.items, root) : undefined;
    if (items?.type !== 'string') throw new Error(`crd: ${at}: uniqueItems only converts for lists of strings`);
    out['x-kubernetes-list-type'] = 'set';
  }
  const mapKeys = LIST_MAP_KEYS[at];
  if (mapKeys !== undefined) {
    out['x-kubernetes-list-type'] = 'map';
    out['x-kubernetes-list-map-keys'] = mapKeys;
  }
  if (s.default !== undefined) out.default = s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) out.example = s.examples[0];
  if (rules.length > 0) out['x-kubernetes-validations'] = rules;
  return out;
}

function constOf(s: JsonSchema | undefined, what: string): string {
  const e = s?.enum;
  if (!Array.isArray(e) || e.length !== 1 || typeof e[0] !== 'string') throw new Error(`crd: the schema's ${what} must be an enum of one string`);
  return e[0];
}

/** The CRD object for a ManifestList schema. */
export function crdFromSchema(schema: JsonSchema): Props {
  const props = schema.properties ?? {};
  const apiVersion = constOf(props.apiVersion, 'apiVersion');
  const kind = constOf(props.kind, 'kind');
  const [group, version] = apiVersion.split('/') as [string, string];
  const plural = `${kind.toLowerCase()}s`;
  // The apiserver owns apiVersion, kind and metadata: the root keeps only their types (metadata must be a bare
  // object in a CRD), and spec and status come from the schema.
  const openAPIV3Schema: Props = {
    description: schema.description,
    type: 'object',
    properties: {
      apiVersion: { description: props.apiVersion?.description, type: 'string' },
      kind: { description: props.kind?.description, type: 'string' },
      metadata: { type: 'object' },
      spec: convert(props.spec ?? {}, schema, 'spec'),
      status: convert(props.status ?? {}, schema, 'status'),
    },
    required: ['spec'],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames: ['ml'] },
      scope: 'Namespaced',
      versions: [{
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
          { name: 'Digest', type: 'string', jsonPath: '.status.digest' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: { openAPIV3Schema },
      }],
    },
  };
}

/** The CRD file's text for the schema file's current contents. */
export function renderCrd(schemaText: string = readFileSync(SCHEMA_FILE, 'utf8')): string {
  const crd = crdFromSchema(JSON.parse(schemaText) as JsonSchema);
  return '# Generated from schemas/manifestlist.schema.json by config/crd/generate.ts (npm run crd). Do not edit.\n---\n'
    + stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false });
}

function main(args: string[]): number {
  const want = renderCrd();
  const paths = [CRD_PATH, CHART_CRD_PATH];
  if (args.includes('--check')) {
    let stale = 0;
    for (const path of paths) {
      let have = '';
      try {
        have = readFileSync(path, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (have !== want) {
        console.error(`${path} is stale: run "npm run crd" and commit the result`);
        stale++;
      }
    }
    return stale > 0 ? 1 : 0;
  }
  for (const path of paths) writeFileSync(path, want);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
