import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { DigestingHasher } from '../../../src/oci/digest.js';
import { LayoutImage } from '../../../src/transports/layout/layout.js';
import { dataStream } from './data.js';

// One random layer, gzipped as it is generated and written straight into a new OCI layout (never held in memory),
// for the memory tests: the layout to read it from, and the layer's digest, size and diff ID.

const tap = (h: DigestingHasher) => new Transform({
  transform(c: Buffer, _e, cb) {
    h.update(c);
    cb(null, c);
  },
});

export async function gzipLayerInLayout(size: number, seed: string) {
  const dir = await mkdtemp(join(tmpdir(), 'plait-memtest-'));
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
  const diff = new DigestingHasher();
  const blob = new DigestingHasher();
  const tmp = join(dir, 'blob.tmp');
  await pipeline(dataStream('random', size, seed, 256 * 1024), tap(diff), createGzip({ level: 1 }), tap(blob), createWriteStream(tmp));
  await rename(tmp, join(dir, 'blobs', 'sha256', blob.digest().slice('sha256:'.length)));
  return { dir, src: new LayoutImage(dir), digest: blob.digest(), size: blob.size, diffId: diff.digest() };
}
