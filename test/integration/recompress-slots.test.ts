import { afterAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { RECOMPRESS_SLOTS } from '../../src/core/compression/recompress.js';
import { makeListVariants } from '../../src/core/compression/variants.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { OCI_LAYER_ZSTD } from '../../src/oci/mediatype.js';
import { closeAllClients, openImage } from '../../src/transports/index.js';
import type { TransportOptions } from '../../src/transports/index.js';
import { LayoutImage } from '../../src/transports/layout/layout.js';
import type { BlobDescriptor } from '../../src/transports/types.js';
import { generateLayout } from '../lab/fixtures/generate.js';

// Recompression is CPU-bound: however many layers the callers work on at once (jobs), no more than RECOMPRESS_SLOTS
// layers are read and compressed from their source at the same time. Observed at the source: a layer's read lasts
// from its GET to the end of its bytes. (An upload's tail and commit may overlap with the next layer's read by design,
// so the uploads at the real registry destination are only counted: the variants' are the streamed ones, size
// unknown until the end.)

const lab = inject('lab');
const plain: TransportOptions = { plainHttp: true };
const R = lab.plain.host;
const dirs: string[] = [];

afterAll(async () => {
  await closeAllClients();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('recompressions in flight', () => {
  it('a list of 2 × 3 layers recompressed with 6 jobs reads at most RECOMPRESS_SLOTS layers at once, all zstd', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plait-slots-'));
    dirs.push(dir);
    const g = await generateLayout({
      dir, tag: 'slots', index: true, gzipLevel: 1, seed: 'recompress-slots',
      images: [
        { platform: { os: 'linux', architecture: 'amd64' }, layers: 3, layerSize: 2 * 1024 * 1024, data: 'semi' },
        { platform: { os: 'linux', architecture: 'arm64' }, layers: 3, layerSize: 2 * 1024 * 1024, data: 'semi' },
      ],
    });
    const repo = `slots/list-${Date.now().toString(36)}`;
    await copyImage(new LayoutImage(g.dir, 'slots'), openImage(`docker://${R}/${repo}:src`, plain));

    const src = openImage(`docker://${R}/${repo}:src`, plain);
    const dest = openImage(`docker://${R}/${repo}:v1`, plain);
    let now = 0;
    let peak = 0;
    let streamed = 0;
    const layerDigests = new Set(g.images.flatMap((i) => i.layers.map((l) => l.digest)));
    const get = src.getBlob.bind(src);
    src.getBlob = async (desc: BlobDescriptor) => {
      if (!layerDigests.has(desc.digest)) return get(desc);
      peak = Math.max(peak, ++now);
      const s = await get(desc);
      s.once('close', () => now--);
      return s;
    };
    const put = dest.putBlob.bind(dest);
    dest.putBlob = (stream: Readable, desc: BlobDescriptor | { digest?: undefined; size: number }) => {
      if (desc.size === -1) streamed++;
      return put(stream, desc);
    };
    const list = await src.getManifest();
    const made = await makeListVariants({ src, dest, list, algorithms: ['zstd'], jobs: 6 });

    expect(made.clones).toHaveLength(2);
    for (const c of made.clones) {
      const m = parseManifest(c.manifest.bytes);
      if (m.kind !== 'image') throw new Error('expected an image manifest');
      expect(m.manifest.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER_ZSTD, OCI_LAYER_ZSTD, OCI_LAYER_ZSTD]);
    }
    expect(streamed).toBe(6);
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(RECOMPRESS_SLOTS);
  });
});
