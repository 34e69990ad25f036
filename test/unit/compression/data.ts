import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { digestOf } from '../../../src/oci/digest.js';
import type { Digest } from '../../../src/oci/digest.js';
import { serializeDockerManifest, serializeOCIManifest } from '../../../src/oci/gojson.js';
import {
  DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_MANIFEST,
} from '../../../src/oci/mediatype.js';
import type { Descriptor } from '../../../src/oci/types.js';
import type { ManifestBlob } from '../../../src/transports/types.js';
import type { MemoryRepo } from './memory-transport.js';

// Test data: deterministic pseudo-random bytes (AES-256-CTR keystream), "semi" data (random alternating with a
// repeated pattern, ~2:1 for gzip/zstd), generated lazily as streams so that large layers never sit in memory; and
// small images (config with the right diff_ids, manifest) put into a MemoryRepo.

export const MiB = 1024 * 1024;

export function keystream(seed: string): (n: number) => Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (n) => cipher.update(Buffer.alloc(n));
}

const PATTERN = Buffer.from('plait-semi-data!'.repeat(256));

/** `size` bytes of 'random' or 'semi' data as a stream of `chunk`-sized pieces, produced as they are read. */
export function dataStream(kind: 'random' | 'semi' | 'zero', size: number, seed = 'plait', chunk = MiB): Readable {
  const next = keystream(seed);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, left);
      left -= n;
      let buf: Buffer;
      if (kind === 'random') buf = next(n);
      else if (kind === 'zero') buf = Buffer.alloc(n);
      else {
        buf = Buffer.allocUnsafe(n);
        for (let off = 0; off < n; off += 4096) {
          const piece = (off / 4096) % 2 === 0 ? next(Math.min(4096, n - off)) : PATTERN.subarray(0, Math.min(4096, n - off));
          piece.copy(buf, off);
        }
      }
      this.push(buf);
    },
  });
}

export async function collect(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export const sha = (b: Buffer): Digest => digestOf(b);

export interface TestImage {
  manifest: ManifestBlob;
  config: Buffer;
  layers: Descriptor[];
  /** The uncompressed layers (the diff_ids are their digests). */
  tars: Buffer[];
}

/**
 * An image with one layer per entry of `tars`, compressed as `compression` (per layer if an array), with an OCI
 * (default) or Docker v2s2 manifest, stored in `repo`.
 */
export function putImage(repo: MemoryRepo, tars: Buffer[], opts: {
  compression?: 'gzip' | 'zstd' | 'none' | Array<'gzip' | 'zstd' | 'none'>;
  docker?: boolean;
  annotations?: Record<string, string>;
  layerAnnotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
} = {}): TestImage {
  const platform = opts.platform ?? { architecture: 'amd64', os: 'linux' };
  const config = Buffer.from(JSON.stringify({
    created: '2024-01-01T00:00:00Z', architecture: platform.architecture, os: platform.os, ...(platform.variant && { variant: platform.variant }),
    config: { Env: ['PATH=/usr/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: tars.map(sha) },
    history: tars.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test' })),
  }));
  const configDigest = repo.addBlob(config);
  const layers = tars.map((tar, i): Descriptor => {
    const c = Array.isArray(opts.compression) ? opts.compression[i] ?? 'gzip' : opts.compression ?? 'gzip';
    const bytes = c === 'gzip' ? gzipSync(tar, { level: 1 }) : c === 'zstd' ? zstdCompress(tar) : tar;
    const mediaType = opts.docker ? DOCKER_LAYER_GZIP : c === 'gzip' ? OCI_LAYER_GZIP : c === 'zstd' ? OCI_LAYER_ZSTD : OCI_LAYER;
    return { mediaType, digest: repo.addBlob(bytes), size: bytes.length, ...(opts.layerAnnotations && { annotations: opts.layerAnnotations }) };
  });
  const bytes = opts.docker
    ? serializeDockerManifest({ schemaVersion: 2, config: { mediaType: DOCKER_CONFIG, digest: configDigest, size: config.length }, layers })
    : serializeOCIManifest({
      schemaVersion: 2, config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length }, layers,
      ...(opts.annotations && { annotations: opts.annotations }),
    });
  const mediaType = opts.docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const digest = repo.addManifest(bytes, mediaType);
  return { manifest: { bytes, mediaType, digest }, config, layers, tars };
}
