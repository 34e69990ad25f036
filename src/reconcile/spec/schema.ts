import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../package-root.js';

// schemas/manifestlist.schema.json is the single source of truth for the document: ajv validates against it,
// withDefaults takes its `default`s from it, and the CRD's openAPIV3Schema is generated from it. It is read at run
// time from the package root.

/** The subset of JSON Schema draft-07 that plait's schema uses, as far as code looks into it. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  definitions?: Record<string, JsonSchema>;
  [keyword: string]: unknown;
}

export const SCHEMA_PATH = join(packageRoot(), 'schemas', 'manifestlist.schema.json');

let cached: JsonSchema | undefined;

/** The parsed schema (read once; treat it as read-only). */
export function manifestListSchema(): JsonSchema {
  cached ??= JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as JsonSchema;
  return cached;
}

/**
 * Follow a local `$ref` (`#/definitions/NAME`), keeping the keywords written beside it (a property's own
 * description or default wins over the definition's).
 */
export function deref(schema: JsonSchema, root: JsonSchema = manifestListSchema()): JsonSchema {
  const ref = schema.$ref;
  if (ref === undefined) return schema;
  const m = /^#\/definitions\/([^/]+)$/.exec(ref);
  const target = m?.[1] !== undefined ? root.definitions?.[m[1]] : undefined;
  if (target === undefined) throw new Error(`schema: unresolved $ref ${ref}`);
  const { $ref: _ref, ...siblings } = schema;
  return { ...deref(target, root), ...siblings };
}
