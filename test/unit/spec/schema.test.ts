// schemas/manifestlist.schema.json: compiles in ajv strict mode, documents every field, bounds what Kubernetes wants
// bounded, agrees with the TypeScript types, and its defaults are what withDefaults fills in.

import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { SCHEMA_PATH, deref, manifestListSchema } from '../../../src/reconcile/spec/schema.js';
import type { JsonSchema } from '../../../src/reconcile/spec/schema.js';
import { withDefaults } from '../../../src/reconcile/spec/types.js';
import type { ManifestListDoc, Source, Spec, Status } from '../../../src/reconcile/spec/types.js';
import { createAjv } from '../../../src/reconcile/spec/validate.js';

const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as JsonSchema;

function strictAjv(): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
  ajv.addFormat('date-time', true);
  return ajv;
}

/** Every schema node with the JSON path of the instance it describes (properties and array items, refs followed). */
function walk(node: JsonSchema, at: string, visit: (s: JsonSchema, raw: JsonSchema, at: string) => void, seen = new Set<JsonSchema>()): void {
  const s = deref(node, schema);
  visit(s, node, at);
  if (seen.has(s)) return;
  seen.add(s);
  for (const [name, sub] of Object.entries(s.properties ?? {})) walk(sub, at === '' ? name : `${at}.${name}`, visit, seen);
  if (s.items !== undefined) walk(s.items, `${at}[]`, visit, seen);
  if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${at}.*`, visit, seen);
}

const minimal: ManifestListDoc = {
  apiVersion: 'plait.dev/v1alpha1',
  kind: 'ManifestList',
  metadata: { name: 'web' },
  spec: { destination: { image: 'registry.example.com/acme/web', tags: ['latest'] }, sources: [{ image: 'busybox' }] },
};

describe('manifestlist.schema.json', () => {
  it('is draft-07 and compiles in ajv strict mode', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const validate = strictAjv().compile(schema);
    expect(validate(minimal)).toBe(true);
    expect(validate({ ...minimal, spec: { ...minimal.spec, format: 'zip' } })).toBe(false);
  });

  it('is the file the validator loads', () => {
    expect(manifestListSchema()).toEqual(schema);
    expect(createAjv().compile(schema)(minimal)).toBe(true);
  });

  it('describes every property', () => {
    const undocumented: string[] = [];
    walk(schema, '', (s, raw, at) => {
      if (at !== '' && !at.endsWith('[]') && !at.endsWith('.*') && raw.description === undefined && s.description === undefined) undocumented.push(at);
    });
    expect(undocumented).toEqual([]);
  });

  it('closes every object in spec and status (additionalProperties: false or a typed map)', () => {
    const open: string[] = [];
    walk(schema, '', (s, _raw, at) => {
      if (!/^(spec|status)\b/.test(at)) return;
      const types = ([] as string[]).concat(s.type ?? []);
      if (types.includes('object') && s.additionalProperties !== false && typeof s.additionalProperties !== 'object') open.push(at);
    });
    expect(open).toEqual([]);
  });

  it('has examples and defaults that are valid values of their own field', () => {
    const ajv = strictAjv();
    const bad: string[] = [];
    let checked = 0;
    walk(schema, '', (s, _raw, at) => {
      const values = [...((s.examples as unknown[] | undefined) ?? []), ...(s.default !== undefined ? [s.default] : [])];
      if (values.length === 0) return;
      const { examples: _e, default: _d, ...rest } = s;
      const validate = ajv.compile({ ...rest, definitions: schema.definitions });
      for (const v of values) {
        checked++;
        if (!validate(v)) bad.push(`${at}: ${JSON.stringify(v)}`);
      }
    });
    expect(bad).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it('declares the defaults of DESIGN §3', () => {
    const spec = deref(schema.definitions!.spec!, schema);
    const defaults = Object.fromEntries(
      Object.entries(spec.properties ?? {})
        .map(([k, v]): [string, unknown] => [k, deref(v, schema).default])
        .filter(([, v]) => v !== undefined),
    );
    expect(defaults).toEqual({ format: 'oci', onConflict: 'replace', prune: true, interval: '10m', suspend: false, deletionPolicy: 'Orphan', historyLimit: 10, timeout: '5m' });
  });

  it('names the same fields as the TypeScript types', () => {
    // Record<keyof T, true> fails to compile when a field is added to or removed from the type and not here.
    const specKeys: Record<keyof Spec, true> = {
      destination: true, format: true, convertInstances: true, listIndent: true, sources: true, platforms: true, onConflict: true, prune: true, annotations: true,
      compression: true, signatures: true, referrers: true, interval: true, suspend: true, deletionPolicy: true, secretRef: true, historyLimit: true,
      timeout: true, retryInterval: true, certSecretRef: true, caConfigMapRef: true,
    };
    const sourceKeys: Record<keyof Source, true> = { image: true, platform: true, platforms: true, annotations: true };
    const statusKeys: Record<keyof Status, true> = {
      observedGeneration: true, digest: true, instances: true, conditions: true, lastHandledReconcileAt: true, history: true,
    };
    const d = schema.definitions!;
    expect(Object.keys(d.spec!.properties!).sort()).toEqual(Object.keys(specKeys).sort());
    expect(Object.keys(d.source!.properties!).sort()).toEqual(Object.keys(sourceKeys).sort());
    expect(Object.keys(d.status!.properties!).sort()).toEqual(Object.keys(statusKeys).sort());
  });

  it('accepts the example of DESIGN §3', () => {
    const design = {
      apiVersion: 'plait.dev/v1alpha1',
      kind: 'ManifestList',
      metadata: { name: 'web' },
      spec: {
        destination: { image: 'registry.example.com/acme/web', tags: ['1.8.0', '1.8', 'latest'] },
        format: 'oci',
        sources: [
          { image: 'registry.example.com/acme/web:1.8.0-amd64' },
          { image: `registry.example.com/acme/web@sha256:${'a'.repeat(64)}`, platform: 'linux/arm64/v8', annotations: { 'com.example.build': '812' } },
          { image: 'docker.io/library/busybox:1.36', platforms: ['linux/arm/v7', 'linux/ppc64le'] },
        ],
        platforms: ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'],
        onConflict: 'replace',
        prune: true,
        annotations: { 'org.opencontainers.image.source': 'https://example.com/acme/web' },
        compression: { variants: ['zstd'], force: false },
        signatures: {
          removeSource: false,
          sigstore: [{ privateKey: { file: 'keys/cosign.key' }, passphrase: { env: 'COSIGN_PASSWORD' } }],
          gpg: [{ key: { file: 'keys/release.sec.asc' }, passphrase: { env: 'GPG_PASSPHRASE' }, lookaside: 'file:///var/lib/containers/sigstore' }],
        },
        interval: '10m',
        suspend: false,
        deletionPolicy: 'Orphan',
        secretRef: { name: 'regcred' },
      },
      status: {
        observedGeneration: 3,
        digest: `sha256:${'b'.repeat(64)}`,
        instances: [{ digest: `sha256:${'c'.repeat(64)}`, platform: 'linux/amd64', source: 'registry.example.com/acme/web:1.8.0-amd64', compression: 'gzip' }],
        conditions: [{ type: 'Ready', status: 'True', reason: 'Pushed', message: 'pushed', observedGeneration: 3, lastTransitionTime: '2026-11-27T06:00:00Z' }],
        lastHandledReconcileAt: '2026-11-27T05:59:00Z',
        history: [{ digest: `sha256:${'b'.repeat(64)}`, pushedAt: '2026-11-27T06:00:00Z' }],
      },
    };
    const validate = createAjv().compile(schema);
    expect(validate(design), JSON.stringify(validate.errors)).toBe(true);
  });
});

describe('withDefaults', () => {
  it('fills the schema defaults into a copy', () => {
    const doc = structuredClone(minimal);
    const out = withDefaults(doc);
    expect(doc).toEqual(minimal);
    expect(out.spec).toEqual({
      ...minimal.spec,
      format: 'oci', onConflict: 'replace', prune: true, interval: '10m', suspend: false, deletionPolicy: 'Orphan', historyLimit: 10,
      timeout: '5m',
    });
    expect(out.status).toBeUndefined();
  });

  it('fills nested defaults only where the parent is present, and keeps what was written', () => {
    const doc: ManifestListDoc = {
      ...minimal,
      spec: { ...minimal.spec, format: 'docker', prune: false, interval: '1h', compression: { level: 3 }, signatures: { sigstore: [] } },
    };
    const out = withDefaults(doc);
    expect(out.spec.format).toBe('docker');
    expect(out.spec.prune).toBe(false);
    expect(out.spec.interval).toBe('1h');
    expect(out.spec.compression).toEqual({ level: 3, force: false });
    expect(out.spec.signatures).toEqual({ sigstore: [], removeSource: false });
    expect(withDefaults(minimal).spec.compression).toBeUndefined();
    expect(withDefaults({ ...minimal, spec: { ...minimal.spec, caConfigMapRef: { name: 'ca' } } }).spec.caConfigMapRef).toEqual({ name: 'ca', key: 'ca.crt' });
    expect(withDefaults({ ...minimal, spec: { ...minimal.spec, caConfigMapRef: { name: 'ca', key: 'b.pem' } } }).spec.caConfigMapRef).toEqual({ name: 'ca', key: 'b.pem' });
    expect(withDefaults(minimal).spec.retryInterval).toBeUndefined();
  });
});
