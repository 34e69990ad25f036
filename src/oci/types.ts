import type { Digest } from './digest.js';

// The shapes of OCI / Docker manifests and lists as plait holds them in memory. Property names are the JSON keys,
// so a parsed document reads naturally and the serializers in gojson.ts can map them onto Go's struct order.
// Absent optional fields are `undefined` (Go's zero value / nil); `manifests: null` is Go's nil slice.

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  /** Docker manifest lists only; the OCI image-spec has no such field and containers/image drops it on conversion. */
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Embedded content, base64 (standard alphabet, padded) exactly as in the JSON. OCI only. */
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  /** The document's own `mediaType` field, when it has one (OCI manifests before image-spec 1.0.2 do not). */
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An OCI image index or a Docker manifest list (the latter never has artifactType, subject or annotations). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  /** `null` is a Go nil slice: containers/common writes `"manifests":null` for a list that never had an entry. */
  manifests: Descriptor[] | null;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}
