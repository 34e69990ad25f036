import { afterAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recompressBlob } from '../../src/core/compression/recompress.js';
import { VARIANT_BLOB_FACT } from '../../src/core/compression/cache.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { Store } from '../../src/core/store/index.js';
import { parseManifest, parseManifestList } from '../../src/oci/manifest.js';
import { ANNOTATION_ZSTD_INSTANCE, OCI_LAYER_ZSTD } from '../../src/oci/mediatype.js';
import type { Descriptor } from '../../src/oci/types.js';
import { closeAllClients, openImage } from '../../src/transports/index.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { runPlait } from '../helpers/cli.js';

// A list applied with zstd variants, source on one registry and destination on another: every source layer is read
// once, and that one read feeds both the plain copy and the zstd variant. The variant bytes are what recompressing
// the layer on its own gives (the digests are reproducible), and the store remembers them for later runs.

const lab = inject('lab');
const peers = inject('peers');
const plain = { plainHttp: true };
const dirs: string[] = [];

afterAll(async () => {
  await closeAllClients();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const layersOf = (bytes: Buffer): Descriptor[] => {
  const p = parseManifest(bytes);
  if (p.kind !== 'image') throw new Error('expected an image manifest');
  return p.manifest.layers;
};

describe('zstd variants made from the copy\'s own read', () => {
  it('reads each source layer once, and the variants equal a separate recompression', async () => {
    const repo = `variant-tee-${Date.now().toString(36)}`;
    const S = lab.plain.host;
    const D = lab.v3.host;
    const [amd64, arm64] = [peers.singles[0]!, peers.singles[1]!];
    await copyImage(openImage(`docker://${amd64.ref}`, plain), openImage(`docker://${S}/${repo}/src:amd64`, plain));
    await copyImage(openImage(`docker://${arm64.ref}`, plain), openImage(`docker://${S}/${repo}/src:arm64`, plain));
    const sourceLayers = [
      ...layersOf((await openImage(`docker://${S}/${repo}/src:amd64`, plain).getManifest()).bytes),
      ...layersOf((await openImage(`docker://${S}/${repo}/src:arm64`, plain).getManifest()).bytes),
    ];
    expect(sourceLayers).toHaveLength(4);

    const dir = await mkdtemp(join(tmpdir(), 'plait-tee-'));
    dirs.push(dir);
    const spec = join(dir, 'spec.yaml');
    await writeFile(spec, `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata: {name: ${repo}}
spec:
  destination: {image: "${D}/${repo}/out", tags: [v1]}
  sources:
    - image: ${S}/${repo}/src:amd64
    - image: ${S}/${repo}/src:arm64
  compression: {variants: [zstd]}
`);
    const marks = [await logMark(lab.plain.accessLog), await logMark(lab.v3.accessLog)];
    const r = await runPlait(['apply', '--plain-http', spec], { env: { PLAIT_STORE: join(dir, 'store') } });
    expect(r.code, r.stderr).toBe(0);
    const entries = [...await entriesSince(lab.plain.accessLog, marks[0]!), ...await entriesSince(lab.v3.accessLog, marks[1]!)];
    for (const l of sourceLayers) {
      // Reads of the layer anywhere: from the source repository or back from the destination.
      const gets = entries.filter((e) => e.method === 'GET' && e.path.split('?')[0]!.endsWith(`/blobs/${l.digest}`));
      expect(gets.map((e) => e.path), l.digest).toHaveLength(1);
    }

    // The variants at the destination: one zstd clone per platform, each layer what recompressBlob alone makes.
    const dest = openImage(`docker://${D}/${repo}/out:v1`, plain);
    const list = await dest.getManifest();
    const clones = (parseManifestList(list.bytes, list.mediaType).index.manifests ?? []).filter((d) => d.annotations?.[ANNOTATION_ZSTD_INSTANCE] === 'true');
    expect(clones).toHaveLength(2);
    const variantLayers = (await Promise.all(clones.map(async (c) => layersOf((await dest.getManifest(c.digest)).bytes)))).flat();
    expect(variantLayers.map((l) => l.mediaType)).toEqual(sourceLayers.map(() => OCI_LAYER_ZSTD));
    const src = openImage(`docker://${S}/${repo}/src:amd64`, plain);
    const apart = openImage(`docker://${S}/${repo}/apart:x`, plain);
    const store = await Store.open(join(dir, 'store'));
    for (const [i, l] of sourceLayers.entries()) {
      const alone = await recompressBlob(src, apart, l, 'zstd');
      expect(variantLayers[i]!.digest).toBe(alone.digest);
      expect(variantLayers[i]!.size).toBe(alone.size);
      // Remembered, so that a later run reuses the variant instead of recompressing.
      const fact = await store.getFact<Record<string, { digest: string }>>(VARIANT_BLOB_FACT, l.digest);
      expect(fact?.['zstd:3']?.digest).toBe(alone.digest);
    }
  }, 120_000);
});
