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

// For the memory tests: one random layer, gzipped as it is generated and written straight into a new OCI layout
// (never held in memory), with its digest, size and diff ID; and the RSS growth of a run.

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

/**
 * Run `fn` and measure how far it raised RSS above the RSS at its start (MiB), logging the figures under `label`.
 * maxRSS is the process's lifetime peak (KiB): it also catches a peak between two samples (and, conservatively, any
 * earlier one above the baseline).
 */
export async function rssGrowth<T>(label: string, mib: number, fn: () => Promise<T>): Promise<{ value: T; growth: number }> {
  const MiB = 1024 * 1024;
  const baseline = process.memoryUsage().rss;
  let sampled = baseline;
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage().rss);
  }, 5);
  const started = process.hrtime.bigint();
  let value: T;
  try {
    value = await fn();
  } finally {
    clearInterval(timer);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const peak = Math.max(sampled, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
  const growth = (peak - baseline) / MiB;
  console.log(`${label}: ${seconds.toFixed(2)} s (${(mib / seconds).toFixed(0)} MiB/s), RSS ${(baseline / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB (growth ${growth.toFixed(1)} MiB)`);
  return { value, growth };
}
