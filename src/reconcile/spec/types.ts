import { deref, manifestListSchema } from './schema.js';
import type { JsonSchema } from './schema.js';

// The ManifestList document as TypeScript sees it, field for field the same as schemas/manifestlist.schema.json
// (which is what actually validates it). Optional fields with a schema default are filled in by withDefaults.

export const API_VERSION = 'plait.dev/v1alpha1';
export const KIND = 'ManifestList';

export type Format = 'oci' | 'docker';
export type OnConflict = 'replace' | 'error';
export type DeletionPolicy = 'Orphan' | 'Delete';
export type CompressionAlgorithm = 'gzip' | 'zstd';

export interface ObjectMeta {
  name: string;
  /** The custom resource's namespace; the CLI ignores it. */
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  // Written by the Kubernetes API server.
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | null;
  deletionTimestamp?: string | null;
  deletionGracePeriodSeconds?: number;
  finalizers?: string[];
  ownerReferences?: Record<string, unknown>[];
  managedFields?: Record<string, unknown>[];
  selfLink?: string;
}

/** The mapping form of a platform; the string form is `os/architecture[/variant]`. */
export interface PlatformObject {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
  features?: string[];
}

export type PlatformSpec = string | PlatformObject;

export interface Destination {
  /** A repository without tag or digest (docker:// optional), or oci:DIR. */
  image: string;
  tags: string[];
}

export interface Source {
  image: string;
  platform?: PlatformSpec;
  platforms?: string[];
  annotations?: Record<string, string>;
}

export interface Compression {
  variants?: CompressionAlgorithm[];
  force?: boolean;
  level?: number;
}

export interface SecretKeyRef {
  name: string;
  key: string;
}

/** Exactly one of the two. */
export type KeySource = { file: string; secretRef?: never } | { secretRef: SecretKeyRef; file?: never };

/** Exactly one of the three. */
export type PassphraseSource =
  | { env: string; file?: never; secretRef?: never }
  | { file: string; env?: never; secretRef?: never }
  | { secretRef: SecretKeyRef; env?: never; file?: never };

export interface SigstoreSigner {
  privateKey: KeySource;
  passphrase?: PassphraseSource;
}

export interface GpgSigner {
  key: KeySource;
  passphrase?: PassphraseSource;
  lookaside?: string;
}

export interface Signatures {
  removeSource?: boolean;
  /** The repository signatures name (host/path); defaults to the destination. */
  identity?: string;
  sigstore?: SigstoreSigner[];
  gpg?: GpgSigner[];
}

export interface Referrers {
  copy: boolean;
  artifactTypes?: string[];
}

export interface Spec {
  destination: Destination;
  format?: Format;
  /** format docker only: convert instances to v2s2 (default true) or keep them as they are. */
  convertInstances?: boolean;
  /** Spaces per level in the list's JSON (default 0: compact). */
  listIndent?: number;
  sources: Source[];
  /** Allowlist over all sources. */
  platforms?: string[];
  onConflict?: OnConflict;
  prune?: boolean;
  /** Index annotations. */
  annotations?: Record<string, string>;
  compression?: Compression;
  signatures?: Signatures;
  referrers?: Referrers;
  /** Go duration, at least 10s. */
  interval?: string;
  suspend?: boolean;
  deletionPolicy?: DeletionPolicy;
  /** Controller only: a kubernetes.io/dockerconfigjson Secret. */
  secretRef?: { name: string };
  /** Controller only: Go duration one reconcile may take (default 5m). */
  timeout?: string;
  /** Controller only: Go duration, the cap of the backoff after failures (default: interval). */
  retryInterval?: string;
  /** Controller only: a Secret with ca.crt and optionally tls.crt / tls.key. */
  certSecretRef?: { name: string };
  /** Controller only: a ConfigMap holding a CA bundle under key (default ca.crt). */
  caConfigMapRef?: { name: string; key?: string };
  historyLimit?: number;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface InstanceStatus {
  digest: string;
  platform?: string;
  source?: string;
  compression?: string;
}

export interface HistoryEntry {
  digest: string;
  pushedAt: string;
}

export interface Status {
  observedGeneration?: number;
  digest?: string;
  instances?: InstanceStatus[];
  conditions?: Condition[];
  lastHandledReconcileAt?: string;
  history?: HistoryEntry[];
}

/** The document as written (schema-valid, defaults not applied). */
export interface ManifestListDoc {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

type Defaulted<T, K extends keyof T> = Omit<T, K> & Required<Pick<T, K>>;

/** A spec with every schema default filled in. */
export type DefaultedSpec = Omit<
  Defaulted<Spec, 'format' | 'onConflict' | 'prune' | 'interval' | 'suspend' | 'deletionPolicy' | 'historyLimit' | 'timeout'>,
  'compression' | 'signatures' | 'caConfigMapRef'
> & {
  compression?: Defaulted<Compression, 'force'>;
  signatures?: Defaulted<Signatures, 'removeSource'>;
  caConfigMapRef?: { name: string; key: string };
};

/** The document after withDefaults. */
export type ManifestList = Omit<ManifestListDoc, 'spec'> & { spec: DefaultedSpec };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// The schema is read once and never changed, so each of its nodes is dereferenced once per run, not once per
// document (deref builds a new object every time; a run of thousands of specs did that for every node of each).
const dereferenced = new WeakMap<JsonSchema, JsonSchema>();
function resolved(schema: JsonSchema): JsonSchema {
  let s = dereferenced.get(schema);
  if (s === undefined) dereferenced.set(schema, (s = deref(schema)));
  return s;
}

function fill(value: unknown, schema: JsonSchema): unknown {
  const s = resolved(schema);
  if (isObject(value) && s.properties !== undefined) {
    for (const [name, propSchema] of Object.entries(s.properties)) {
      const p = resolved(propSchema);
      if (value[name] === undefined) {
        if (p.default !== undefined) value[name] = structuredClone(p.default);
      } else {
        value[name] = fill(value[name], p);
      }
    }
  } else if (Array.isArray(value) && s.items !== undefined) {
    for (let i = 0; i < value.length; i++) value[i] = fill(value[i], s.items);
  }
  return value;
}

/**
 * A copy of a schema-valid document with the schema's defaults filled in (format oci, onConflict replace, prune
 * true, interval 10m, timeout 5m, suspend false, deletionPolicy Orphan, historyLimit 10, compression.force false,
 * signatures.removeSource false, caConfigMapRef.key ca.crt). retryInterval has no schema default: it follows interval. The document passed in is not modified.
 */
export function withDefaults(doc: ManifestListDoc): ManifestList {
  return fill(structuredClone(doc), manifestListSchema()) as ManifestList;
}
