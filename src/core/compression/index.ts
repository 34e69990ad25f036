// Layer compression: detection, streaming codecs, recompression of one layer, the variant cache that keeps
// recompression reproducible across runs, and the compression variants of list instances (AddCompression).
export * from './detect.js';
export * from './streams.js';
export * from './recompress.js';
export * from './cache.js';
export * from './variants.js';
export * from './tee.js';
