// The pure OCI model: digests, media types, manifest parsing, Go-identical serialization, platforms and instance
// choice, docker references and transport-qualified image names. Nothing here does I/O.

export * from './digest.js';
export * from './mediatype.js';
export type * from './types.js';
export { MAX_MANIFEST_BYTES, guessMediaType, parseManifest, parseManifestList, type ParsedManifest } from './manifest.js';
export * from './gojson.js';
export * from './platform.js';
export * from './platform-match.js';
export * from './reference.js';
export * from './image-name.js';
