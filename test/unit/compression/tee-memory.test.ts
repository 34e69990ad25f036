import { afterAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { VariantTee } from '../../../src/core/compression/tee.js';
import { OCI_LAYER_GZIP, OCI_LAYER_ZSTD } from '../../../src/oci/mediatype.js';
import { MiB } from './data.js';
import { gzipLayerInLayout, rssGrowth } from './gzip-layout.js';
import { MemoryRegistry } from './memory-transport.js';

// The tee, measured like memory.test.ts: a 256 MiB random gzip layer read once from an OCI layout, copied as it is
// and recompressed to zstd from the same read, into a destination that keeps only digests. Were a branch to buffer
// what the other has not taken yet, it would grow by the layer's 256 MiB; the bound is 160 MiB, four times the ~40 MiB
// measured, so a busy machine does not make it fail. A 32 MiB layer goes through first, so the growth is what the layer's size adds. (Its own file:
// vitest gives it its own process.)

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function recompress(size: number, seed: string) {
  const layer = await gzipLayerInLayout(size, seed);
  dirs.push(layer.dir);
  const dest = new MemoryRegistry().repo('dest/big', { sink: true });
  const desc = { digest: layer.digest, size: layer.size };
  return {
    layer, dest,
    run: async () => {
      const tee = new VariantTee(dest);
      tee.want({ mediaType: OCI_LAYER_GZIP, ...desc }, 'zstd');
      const plain = await tee.copy(await layer.src.getBlob(desc), desc, (s) => dest.putBlob(s, desc));
      expect(plain).toEqual(desc);
      return (await tee.result(layer.digest, 'zstd:3'))!;
    },
  };
}

describe('tee memory', () => {
  it('a 256 MiB layer copied and recompressed from one read grows RSS by less than 160 MiB', async () => {
    await (await recompress(32 * MiB, 'warm-up')).run();
    const big = await recompress(256 * MiB, 'memory-test');

    const { value: r, growth } = await rssGrowth('256 MiB random gzip copied + → zstd from one read of an OCI layout', 256, () => big.run());
    expect(r.diffId).toBe(big.layer.diffId);
    expect(r.mediaType).toBe(OCI_LAYER_ZSTD);
    expect(r.size).toBeGreaterThan(256 * MiB);
    expect(big.dest.counts.bytesUploaded).toBe(r.size + big.layer.size);
    expect(growth).toBeLessThan(160);
  }, 120_000);
});
