import { afterAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { recompressBlob } from '../../../src/core/compression/recompress.js';
import { OCI_LAYER_GZIP, OCI_LAYER_ZSTD } from '../../../src/oci/mediatype.js';
import { MiB } from './data.js';
import { gzipLayerInLayout, rssGrowth } from './gzip-layout.js';
import { MemoryRegistry } from './memory-transport.js';

// Streaming, measured: a 256 MiB random layer (gzip, in an OCI layout, read as a verified stream) recompressed to
// zstd into a destination that keeps only digests. Were any stage to buffer the layer, RSS would grow by hundreds of
// MiB; the bound is 128 MiB, half the layer (about 40 MiB is typical; a loaded machine, where the collector lags, made
// 64 MiB flaky). A 32 MiB layer goes through first so that the baseline includes what any run costs
// (code, zstd contexts and threads, a heap that has seen buffers come and go) and the growth measured is what the
// layer's size adds. The layer is generated and gzipped as it is written, never held. (Its own file: vitest gives it
// its own process.)

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function recompress(size: number, seed: string) {
  const layer = await gzipLayerInLayout(size, seed);
  dirs.push(layer.dir);
  const dest = new MemoryRegistry().repo('dest/big', { sink: true });
  return { layer, dest, run: () => recompressBlob(layer.src, dest, { mediaType: OCI_LAYER_GZIP, digest: layer.digest, size: layer.size }, 'zstd') };
}

describe('recompression memory', () => {
  it('gzip → zstd of a 256 MiB layer grows RSS by less than half of it', async () => {
    await (await recompress(32 * MiB, 'warm-up')).run();
    const big = await recompress(256 * MiB, 'memory-test');

    const { value: r, growth } = await rssGrowth('256 MiB random gzip → zstd from an OCI layout', 256, () => big.run());
    expect(r.diffId).toBe(big.layer.diffId);
    expect(r.mediaType).toBe(OCI_LAYER_ZSTD);
    expect(r.size).toBeGreaterThan(256 * MiB);
    expect(big.dest.counts.bytesUploaded).toBe(r.size);
    expect(growth).toBeLessThan(128);
  }, 120_000);
});
