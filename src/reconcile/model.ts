import type { Platform } from '../oci/types.js';
import type { TransportOptions } from '../transports/index.js';

// What the reconciler works from: one ManifestList document, validated and with defaults applied, in plain terms.
// The spec layer (spec/) turns YAML into this; the controller turns a custom resource into the same.

export interface SourceSpec {
  /** A transport-qualified image name: docker://… (the default) or oci:DIR[:REF]. */
  image: string;
  /** For a single image: override its platform. For a list: take that platform's instance. */
  platform?: Platform;
  /** For a list: the instances for these platforms (containers/image matching); omitted = all. */
  platforms?: Platform[];
  /** Entry (descriptor) annotations. */
  annotations?: Record<string, string>;
}

export interface KeyRef { file?: string; env?: string; value?: string }

export interface SignatureSpec {
  removeSource: boolean;
  /** The repository signatures name; default the destination's. */
  identity?: string;
  sigstore: Array<{ privateKey: KeyRef; passphrase?: KeyRef }>;
  gpg: Array<{ key: KeyRef; passphrase?: KeyRef; lookaside?: string }>;
}

/**
 * What only the controller acts on, carried as plain data (names of Kubernetes objects, never their contents: the
 * controller reads Secrets and ConfigMaps at reconcile time). The CLI ignores it; watch has its own interval.
 */
export interface ControllerSpec {
  /** Go durations as written (defaults applied: interval 10m, timeout 5m, retryInterval = interval). */
  interval: string;
  timeout: string;
  retryInterval: string;
  suspend: boolean;
  deletionPolicy: 'Orphan' | 'Delete';
  /** A kubernetes.io/dockerconfigjson Secret with the registry credentials. */
  secretRef?: { name: string };
  /** A Secret with ca.crt and optionally tls.crt / tls.key, for every registry of the spec. */
  certSecretRef?: { name: string };
  /** A ConfigMap key holding a CA bundle, for every registry of the spec. */
  caConfigMapRef?: { name: string; key: string };
}

export interface ReconcileSpec {
  /** metadata.name: the stored list's name. */
  name: string;
  /** Where the document came from, for messages. */
  origin: string;
  destination: { image: string; tags: string[] };
  format: 'oci' | 'docker';
  /** format docker: instances copied as they are, only the list written as a Docker list (convertInstances: false). */
  keepInstances?: true;
  /** Spaces per level in the list's JSON; absent: compact. */
  listIndent?: number;
  sources: SourceSpec[];
  platforms?: Platform[];
  onConflict: 'replace' | 'error';
  prune: boolean;
  annotations?: Record<string, string>;
  compression?: { variants: string[]; force: boolean; level?: number };
  signatures?: SignatureSpec;
  /** Carry each instance's referrers (signatures, attestations, SBOMs, OCI artifacts) from its source. */
  referrers?: { artifactTypes?: string[] };
  historyLimit: number;
  controller: ControllerSpec;
  transport: TransportOptions;
}
