// planVariants (§5.2) and applyVariantsToIndex (§5.4). Expected list bytes are written out by hand from Go's
// encoding/json rules for image-spec's Index/Descriptor/Platform structs, not produced by the code under test.

import { describe, expect, it } from 'vitest';
import { applyVariantsToIndex, planVariants, variantAlgorithm } from '../../../src/core/compression/variants.js';
import type { VariantPlan } from '../../../src/core/compression/variants.js';
import { PlaitError } from '../../../src/errors.js';
import type { Digest } from '../../../src/oci/digest.js';
import { serializeOCIIndex } from '../../../src/oci/gojson.js';
import { parseManifestList } from '../../../src/oci/manifest.js';
import { ANNOTATION_ZSTD_INSTANCE, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../../src/oci/mediatype.js';
import type { Descriptor, ImageIndex, Platform } from '../../../src/oci/types.js';

const dg = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const ZSTD = { [ANNOTATION_ZSTD_INSTANCE]: 'true' };
const amd64: Platform = { architecture: 'amd64', os: 'linux' };
const arm64: Platform = { architecture: 'arm64', os: 'linux', variant: 'v8' };
const entry = (c: string, platform: Platform | undefined, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: OCI_MANIFEST, digest: dg(c), size: 500, ...(platform && { platform }), ...extra,
});
const oci = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
const summary = (plan: VariantPlan[]) => plan.map((p) => `${p.position}:${p.algorithm}`);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof PlaitError ? e.code : 'not a PlaitError';
  }
  return undefined;
}

describe('planVariants', () => {
  it('one zstd clone per platform, from its first instance', () => {
    const idx = oci(entry('a', amd64), entry('b', arm64), entry('c', amd64), entry('d', arm64));
    const plan = planVariants(idx, ['zstd']);
    expect(summary(plan)).toEqual(['0:zstd', '1:zstd']);
    expect(plan[0]!.source).toBe(idx.manifests![0]);
  });

  it('an existing zstd twin (annotated entry) satisfies its platform, wherever it sits in the list', () => {
    const idx = oci(entry('a', amd64), entry('b', arm64), entry('c', amd64, { annotations: ZSTD }));
    expect(summary(planVariants(idx, ['zstd']))).toEqual(['1:zstd']);
    // Asking for gzip where a platform only has zstd clones the zstd instance.
    const onlyZstd = oci(entry('a', amd64, { annotations: ZSTD }), entry('b', arm64));
    expect(summary(planVariants(onlyZstd, ['gzip']))).toEqual(['0:gzip']);
    expect(summary(planVariants(onlyZstd, ['gzip', 'zstd']))).toEqual(['0:gzip', '1:zstd']);
    // The same request twice changes nothing; the algorithm order of the request is kept per instance.
    expect(summary(planVariants(oci(entry('a', amd64)), ['zstd', 'gzip', 'zstd']))).toEqual(['0:zstd']);
  });

  it('platforms differ by os.version, variant and the sorted os.features; entries without one share a key', () => {
    const win = (v: string, features?: string[]): Platform => ({ architecture: 'amd64', os: 'windows', 'os.version': v, ...(features && { 'os.features': features }) });
    const idx = oci(
      entry('a', win('10.0.17763.1')), entry('b', win('10.0.20348.1')), entry('c', win('10.0.17763.1', ['win32k', 'x'])),
      entry('d', win('10.0.17763.1', ['x', 'win32k'])), entry('e', { architecture: 'arm', os: 'linux', variant: 'v6' }),
      entry('f', { architecture: 'arm', os: 'linux', variant: 'v7' }), entry('g', undefined), entry('h', undefined),
    );
    expect(summary(planVariants(idx, ['zstd']))).toEqual(['0:zstd', '1:zstd', '2:zstd', '4:zstd', '5:zstd', '6:zstd']);
  });

  it('a Docker list counts every entry as gzip (it cannot carry the annotation)', () => {
    const list = parseManifestList(JSON.stringify({
      schemaVersion: 2, mediaType: DOCKER_LIST,
      manifests: [
        { mediaType: DOCKER_MANIFEST, digest: dg('a'), size: 1, platform: amd64 },
        { mediaType: DOCKER_MANIFEST, digest: dg('b'), size: 1, platform: arm64 },
      ],
    }));
    expect(summary(planVariants(list.index, ['gzip']))).toEqual([]);
    expect(summary(planVariants(list.index, ['zstd']))).toEqual(['0:zstd', '1:zstd']);
    // An entry that claims zstd in a Docker list is still gzip to containers/image; the type given decides.
    const claimed: ImageIndex = { schemaVersion: 2, manifests: [{ ...entry('a', amd64, { annotations: ZSTD }), mediaType: DOCKER_MANIFEST }] };
    expect(summary(planVariants(claimed, ['zstd'], { mediaType: DOCKER_LIST }))).toEqual(['0:zstd']);
    expect(summary(planVariants(claimed, ['zstd'], { mediaType: OCI_INDEX }))).toEqual([]);
  });

  it('skips artifacts, nested lists and what isImage excludes; the next image of the platform becomes the source', () => {
    const idx = oci(
      entry('a', amd64, { artifactType: 'application/vnd.example.sbom' }), entry('b', amd64), entry('c', arm64, { mediaType: OCI_INDEX }),
      entry('d', arm64), entry('e', { architecture: 's390x', os: 'linux' }), entry('f', { architecture: 's390x', os: 'linux' }),
    );
    expect(summary(planVariants(idx, ['zstd']))).toEqual(['1:zstd', '3:zstd', '4:zstd']);
    expect(summary(planVariants(idx, ['zstd'], { isImage: (d) => d.digest !== dg('e') }))).toEqual(['1:zstd', '3:zstd', '5:zstd']);
    // An excluded zstd-annotated artifact does not satisfy its platform either.
    const withArtifact = oci(entry('a', amd64, { annotations: ZSTD, artifactType: 'application/x' }), entry('b', amd64));
    expect(summary(planVariants(withArtifact, ['zstd']))).toEqual(['1:zstd']);
    expect(planVariants({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: null }, ['zstd'])).toEqual([]);
  });

  it('refuses zstd:chunked (E_UNSUPPORTED) and unknown names (E_INVALID) before planning anything', () => {
    const idx = oci(entry('a', amd64));
    expect(() => planVariants(idx, ['zstd:chunked'])).toThrow('zstd:chunked is not supported');
    expect(codeOf(() => planVariants(idx, ['zstd:chunked']))).toBe('E_UNSUPPORTED');
    expect(() => planVariants(idx, ['zstd', 'brotli'])).toThrow('requested algorithm brotli is not supported for replication');
    expect(codeOf(() => planVariants(idx, ['zstd', 'brotli']))).toBe('E_INVALID');
    // Names are exact, as in containers/image.
    expect(codeOf(() => planVariants(idx, ['ZSTD']))).toBe('E_INVALID');
    expect(codeOf(() => planVariants(oci(), ['gzip', 'nope']))).toBe('E_INVALID');
    // Known to containers/image, but no manifest type can carry them.
    expect(codeOf(() => variantAlgorithm('bzip2'))).toBe('E_UNSUPPORTED');
    expect(codeOf(() => variantAlgorithm('Xz'))).toBe('E_UNSUPPORTED');
    expect(variantAlgorithm('gzip')).toBe('gzip');
  });
});

describe('applyVariantsToIndex', () => {
  const idx = oci(
    entry('a', amd64, { annotations: { 'org.opencontainers.image.ref.name': 'x' } }),
    entry('b', arm64),
    entry('c', { architecture: 's390x', os: 'linux' }, { annotations: ZSTD }),
    entry('d', { architecture: 'ppc64le', os: 'linux' }),
  );

  it('appends clones with the source platform and annotations (+ zstd) and moves zstd entries last, stably', () => {
    const out = applyVariantsToIndex(idx, [
      { source: idx.manifests![0]!, algorithm: 'zstd', digest: dg('e'), size: 701 },
      { source: idx.manifests![1]!, algorithm: 'zstd', digest: dg('f'), size: 702 },
    ]);
    const e = (c: string) => c.repeat(64);
    const expected =
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[' +
      `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${e('a')}","size":500,"annotations":{"org.opencontainers.image.ref.name":"x"},"platform":{"architecture":"amd64","os":"linux"}},` +
      `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${e('b')}","size":500,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},` +
      `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${e('d')}","size":500,"platform":{"architecture":"ppc64le","os":"linux"}},` +
      `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${e('c')}","size":500,"annotations":{"io.github.containers.compression.zstd":"true"},"platform":{"architecture":"s390x","os":"linux"}},` +
      `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${e('e')}","size":701,"annotations":{"io.github.containers.compression.zstd":"true","org.opencontainers.image.ref.name":"x"},"platform":{"architecture":"amd64","os":"linux"}},` +
      `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${e('f')}","size":702,"annotations":{"io.github.containers.compression.zstd":"true"},"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}` +
      ']}';
    expect(serializeOCIIndex(out).toString()).toBe(expected);
    // The input is not modified.
    expect(idx.manifests!.map((d) => d.digest)).toEqual([dg('a'), dg('b'), dg('c'), dg('d')]);
    expect(idx.manifests![0]!.annotations).toEqual({ 'org.opencontainers.image.ref.name': 'x' });
  });

  it('without clones nothing moves, even a zstd entry that is not last', () => {
    expect(serializeOCIIndex(applyVariantsToIndex(idx, [])).equals(serializeOCIIndex(idx))).toBe(true);
  });

  it('a gzip clone gets no zstd annotation, even from a zstd source, and stays among the gzip entries', () => {
    const out = applyVariantsToIndex(idx, [{ source: idx.manifests![2]!, algorithm: 'gzip', digest: dg('9'), size: 9 }]);
    expect(out.manifests!.map((d) => d.digest)).toEqual([dg('a'), dg('b'), dg('d'), dg('9'), dg('c')]);
    expect(out.manifests![3]).toEqual({ mediaType: OCI_MANIFEST, digest: dg('9'), size: 9, platform: { architecture: 's390x', os: 'linux' } });
  });

  it('clones of Docker-list entries drop the Docker-only features and make the result an OCI index', () => {
    const docker: ImageIndex = {
      schemaVersion: 2, mediaType: DOCKER_LIST,
      manifests: [{ mediaType: DOCKER_MANIFEST, digest: dg('a'), size: 5, platform: { architecture: 'amd64', os: 'linux', features: ['sse4'] } }],
    };
    const out = applyVariantsToIndex(docker, [{ source: docker.manifests![0]!, algorithm: 'zstd', digest: dg('b'), size: 6 }]);
    expect(out.mediaType).toBe(OCI_INDEX);
    expect(out.manifests![1]!.platform).toEqual({ architecture: 'amd64', os: 'linux' });
    expect(serializeOCIIndex(out).toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[' +
      `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"${dg('a')}","size":5,"platform":{"architecture":"amd64","os":"linux"}},` +
      `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${dg('b')}","size":6,"annotations":{"io.github.containers.compression.zstd":"true"},"platform":{"architecture":"amd64","os":"linux"}}]}`,
    );
  });
});
