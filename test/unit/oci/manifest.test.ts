// Manifest and list parsing from bytes: media type decision, shape checks, descriptor validation with JSON paths,
// the 4 MiB cap, schema 1 refusal, and containers/image's GuessMIMEType.

import { describe, expect, it } from 'vitest';
import { isPlaitError } from '../../../src/errors.js';
import { MAX_MANIFEST_BYTES, guessMediaType, parseManifest, parseManifestList } from '../../../src/oci/manifest.js';
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
} from '../../../src/oci/mediatype.js';
import { errOf } from '../../helpers/errors.js';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);
const D3 = 'sha256:' + '3'.repeat(64);

const j = (v: unknown) => Buffer.from(JSON.stringify(v));

const ociIndex = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: OCI_INDEX,
  manifests: [
    { mediaType: OCI_MANIFEST, digest: D1, size: 100, platform: { architecture: 'amd64', os: 'linux' } },
    {
      mediaType: OCI_MANIFEST,
      digest: D2,
      size: 200,
      annotations: { 'io.github.containers.compression.zstd': 'true' },
      platform: { architecture: 'arm64', os: 'linux', variant: 'v8', features: ['dropped'] },
    },
  ],
  ...over,
});

const ociManifest = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: OCI_CONFIG, digest: D1, size: 10 },
  layers: [{ mediaType: OCI_LAYER_GZIP, digest: D2, size: 20 }],
  ...over,
});

const dockerList = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: DOCKER_LIST,
  manifests: [
    { mediaType: DOCKER_MANIFEST, size: 528, digest: D1, platform: { architecture: 'amd64', os: 'linux', features: ['sse4'] } },
  ],
  ...over,
});

const dockerManifest = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: DOCKER_MANIFEST,
  config: { mediaType: DOCKER_CONFIG, size: 10, digest: D1 },
  layers: [{ mediaType: DOCKER_LAYER_GZIP, size: 20, digest: D2 }],
  ...over,
});

describe('parseManifest: valid documents', () => {
  it('parses an OCI index with its descriptors (dropping Docker-only platform.features)', () => {
    const p = parseManifest(j(ociIndex({ annotations: { a: 'b' }, artifactType: 'x/y', subject: { mediaType: OCI_MANIFEST, digest: D3, size: 1 } })), OCI_INDEX);
    expect(p.kind).toBe('index');
    if (p.kind !== 'index') return;
    expect(p.mediaType).toBe(OCI_INDEX);
    expect(p.index).toEqual({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      artifactType: 'x/y',
      manifests: [
        { mediaType: OCI_MANIFEST, digest: D1, size: 100, platform: { architecture: 'amd64', os: 'linux' } },
        {
          mediaType: OCI_MANIFEST,
          digest: D2,
          size: 200,
          annotations: { 'io.github.containers.compression.zstd': 'true' },
          platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
        },
      ],
      subject: { mediaType: OCI_MANIFEST, digest: D3, size: 1 },
      annotations: { a: 'b' },
    });
  });

  it('parses a Docker list, keeping features and ignoring OCI-only fields', () => {
    const p = parseManifest(j(dockerList({ annotations: { ignored: 'yes' } })), `${DOCKER_LIST}; charset=utf-8`);
    expect(p.kind === 'index' && p.mediaType).toBe(DOCKER_LIST);
    if (p.kind !== 'index') return;
    expect(p.index).toEqual({
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [{ mediaType: DOCKER_MANIFEST, size: 528, digest: D1, platform: { architecture: 'amd64', os: 'linux', features: ['sse4'] } }],
    });
  });

  it('accepts "manifests": null (a Go nil slice) for both list types', () => {
    const docker = parseManifest('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":null}');
    expect(docker.kind === 'index' && docker.index.manifests).toBeNull();
    const oci = parseManifest(j({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: null }));
    expect(oci.kind === 'index' && oci.index.manifests).toBeNull();
  });

  it('infers an OCI index without mediaType or Content-Type from its shape, even when empty', () => {
    const full = parseManifest(j({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1 }] }));
    expect(full.mediaType).toBe(OCI_INDEX);
    const empty = parseManifest(j({ schemaVersion: 2, manifests: [] }));
    expect(empty.kind === 'index' && empty.index).toEqual({ schemaVersion: 2, manifests: [] });
  });

  it('parses OCI and Docker image manifests, including a pre-1.0.2 OCI manifest without mediaType', () => {
    const oci = parseManifest(j(ociManifest()), OCI_MANIFEST);
    expect(oci.kind === 'image' && oci.manifest.layers[0]?.digest).toBe(D2);
    const old = parseManifest(j(ociManifest({ mediaType: undefined })));
    expect(old.kind === 'image' && old.mediaType).toBe(OCI_MANIFEST);
    expect(old.kind === 'image' && 'mediaType' in old.manifest).toBe(false);
    const docker = parseManifest(j(dockerManifest()), DOCKER_MANIFEST);
    expect(docker.kind === 'image' && docker.manifest).toEqual(dockerManifest());
  });

  it('ignores uninformative Content-Types and lets the document decide', () => {
    expect(parseManifest(j(dockerList()), 'application/json').mediaType).toBe(DOCKER_LIST);
    expect(parseManifest(j(ociManifest()), 'text/plain').mediaType).toBe(OCI_MANIFEST);
    expect(parseManifest(j(ociManifest()), '').mediaType).toBe(OCI_MANIFEST);
  });

  it('accepts exactly 4 MiB and refuses one byte more', () => {
    const base = JSON.stringify(ociIndex());
    const exact = base + ' '.repeat(MAX_MANIFEST_BYTES - base.length);
    expect(Buffer.byteLength(exact)).toBe(4 * 1024 * 1024);
    expect(parseManifest(Buffer.from(exact)).kind).toBe('index');
    const e = errOf(() => parseManifest(Buffer.from(exact + ' ')));
    expect(e.code).toBe('E_MANIFEST_INVALID');
    expect(e.message).toMatch(/4194305 bytes, more than the 4194304-byte \(4 MiB\) limit/);
  });
});

describe('parseManifest: refused documents name the JSON path', () => {
  const cases: Array<[string, () => unknown, string, RegExp]> = [
    ['not JSON', () => parseManifest('{"schemaVersion":'), 'E_MANIFEST_INVALID', /^manifest is not valid JSON/],
    ['a BOM', () => parseManifest(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), j(ociIndex())])), 'E_MANIFEST_INVALID', /not valid JSON/],
    ['an array', () => parseManifest('[]'), 'E_MANIFEST_INVALID', /^\(root\): a manifest must be a JSON object, got an array/],
    ['null', () => parseManifest('null'), 'E_MANIFEST_INVALID', /^\(root\): .* got null/],
    ['schemaVersion 1', () => parseManifest(j({ schemaVersion: 1, name: 'x', fsLayers: [] })), 'E_UNSUPPORTED', /Docker schema 1 manifests \(schemaVersion 1\) are not supported for writing/],
    ['a schema 1 Content-Type', () => parseManifest(j(ociIndex()), DOCKER_SCHEMA1_SIGNED), 'E_UNSUPPORTED', /Docker schema 1 .*prettyjws/],
    ['a schema 1 mediaType', () => parseManifest(j({ schemaVersion: 2, mediaType: DOCKER_SCHEMA1 })), 'E_UNSUPPORTED', /Docker schema 1/],
    ['no schemaVersion', () => parseManifest(j({ mediaType: OCI_INDEX, manifests: [] })), 'E_MANIFEST_INVALID', /^schemaVersion: missing; must be 2$/],
    ['schemaVersion 3', () => parseManifest(j(ociIndex({ schemaVersion: 3 }))), 'E_MANIFEST_INVALID', /^schemaVersion: must be 2, got number 3$/],
    ['schemaVersion "2"', () => parseManifest(j(ociIndex({ schemaVersion: '2' }))), 'E_MANIFEST_INVALID', /^schemaVersion: must be 2, got the string "2"$/],
    ['a numeric mediaType', () => parseManifest(j(ociIndex({ mediaType: 7 }))), 'E_MANIFEST_INVALID', /^mediaType: must be a string, got number 7$/],
    ['mediaType ≠ Content-Type', () => parseManifest(j(ociIndex()), DOCKER_LIST), 'E_MANIFEST_INVALID', /^mediaType: "application\/vnd.oci.image.index.v1\+json" does not match the Content-Type "application\/vnd.docker.distribution.manifest.list.v2\+json"$/],
    ['an unknown mediaType', () => parseManifest(j(ociIndex({ mediaType: 'application/x-foo' }))), 'E_UNSUPPORTED', /^mediaType: "application\/x-foo" is not a supported manifest type$/],
    ['an unknown Content-Type', () => parseManifest(j(ociIndex()), OCI_CONFIG), 'E_UNSUPPORTED', /Content-Type "application\/vnd.oci.image.config.v1\+json" is not a supported manifest type/],
    ['a config blob', () => parseManifest(j({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }), OCI_CONFIG), 'E_UNSUPPORTED', /^Content-Type "application\/vnd.oci.image.config.v1\+json" is not a supported manifest type$/],
    ['an index with config', () => parseManifest(j(ociIndex({ config: { mediaType: OCI_CONFIG, digest: D1, size: 1 } }))), 'E_MANIFEST_INVALID', /^config: not allowed in an OCI image index/],
    ['a list with layers', () => parseManifest(j(dockerList({ layers: [] }))), 'E_MANIFEST_INVALID', /^layers: not allowed in a Docker manifest list/],
    ['a manifest with manifests', () => parseManifest(j(ociManifest({ manifests: [] }))), 'E_MANIFEST_INVALID', /^manifests: not allowed in an OCI image manifest/],
    ['a manifest with fsLayers', () => parseManifest(j(dockerManifest({ fsLayers: [] }))), 'E_MANIFEST_INVALID', /^fsLayers: not allowed in a Docker schema 2 manifest/],
    ['an index without manifests', () => parseManifest(j({ schemaVersion: 2, mediaType: OCI_INDEX })), 'E_MANIFEST_INVALID', /^manifests: missing; an OCI image index must list its manifests$/],
    ['manifests as an object', () => parseManifest(j(ociIndex({ manifests: {} }))), 'E_MANIFEST_INVALID', /^manifests: must be an array, got an object$/],
    ['a null entry', () => parseManifest(j(ociIndex({ manifests: [null] }))), 'E_MANIFEST_INVALID', /^manifests\[0\]: must be an object, got null$/],
    ['an entry without mediaType', () => parseManifest(j(ociIndex({ manifests: [{ digest: D1, size: 1 }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].mediaType: missing$/],
    ['an empty mediaType', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: '', digest: D1, size: 1 }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].mediaType: must not be empty$/],
    ['a bad digest', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1 }, { mediaType: OCI_MANIFEST, digest: D2, size: 1 }, { mediaType: OCI_MANIFEST, digest: 'sha256:abc', size: 1 }] }))), 'E_DIGEST_INVALID', /^manifests\[2\].digest: invalid digest "sha256:abc"/],
    ['an unsupported digest', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: 'sha384:' + 'a'.repeat(96), size: 1 }] }))), 'E_UNSUPPORTED', /^manifests\[0\].digest: unsupported digest algorithm "sha384"/],
    ['a missing digest', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, size: 1 }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].digest: missing$/],
    ['a negative size', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1 }, { mediaType: OCI_MANIFEST, digest: D2, size: -1 }] }))), 'E_MANIFEST_INVALID', /^manifests\[1\].size: must be a non-negative integer, got number -1$/],
    ['a fractional size', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1.5 }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].size: must be a non-negative integer/],
    ['a string size', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: '12' }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].size: .*got the string "12"/],
    ['an unsafe size', () => parseManifest(`{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"${D1}","size":9007199254740993}]}`), 'E_MANIFEST_INVALID', /^manifests\[0\].size: must be a non-negative integer/],
    ['a missing size', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1 }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].size: missing$/],
    ['urls as a string', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1, urls: 'http://x' }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].urls: must be an array of strings/],
    ['a non-string url', () => parseManifest(j(dockerList({ manifests: [{ mediaType: DOCKER_MANIFEST, digest: D1, size: 1, urls: ['http://x', 3] }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].urls\[1\]: must be a string, got number 3$/],
    ['a non-string annotation', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1, annotations: { 'a.b': 1 } }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].annotations\["a.b"\]: must be a string, got number 1$/],
    ['index annotations as an array', () => parseManifest(j(ociIndex({ annotations: ['x'] }))), 'E_MANIFEST_INVALID', /^annotations: must be an object mapping strings to strings, got an array$/],
    ['a platform without os', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1, platform: { architecture: 'amd64' } }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].platform.os: missing$/],
    ['a bad os.features', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1, platform: { architecture: 'amd64', os: 'windows', 'os.features': 'win32k' } }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].platform\["os.features"\]: must be an array of strings/],
    ['a platform as a string', () => parseManifest(j(dockerList({ manifests: [{ mediaType: DOCKER_MANIFEST, digest: D1, size: 1, platform: 'linux/amd64' }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].platform: must be an object, got the string "linux\/amd64"$/],
    ['bad data', () => parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1, data: 'not base64!' }] }))), 'E_MANIFEST_INVALID', /^manifests\[0\].data: must be standard padded base64$/],
    ['a bad subject', () => parseManifest(j(ociIndex({ subject: { mediaType: OCI_MANIFEST, digest: 'x', size: 1 } }))), 'E_DIGEST_INVALID', /^subject.digest: invalid digest "x"/],
    ['an image without config', () => parseManifest(j(ociManifest({ config: undefined })), OCI_MANIFEST), 'E_MANIFEST_INVALID', /^config: missing; an OCI image manifest must have a config descriptor$/],
    ['an image without layers', () => parseManifest(j(ociManifest({ layers: undefined }))), 'E_MANIFEST_INVALID', /^layers: missing/],
    ['layers as an object', () => parseManifest(j(ociManifest({ layers: {} }))), 'E_MANIFEST_INVALID', /^layers: must be an array, got an object$/],
    ['a bad layer digest', () => parseManifest(j(ociManifest({ layers: [{ mediaType: OCI_LAYER_GZIP, digest: D1, size: 1 }, { mediaType: OCI_LAYER_GZIP, digest: 'sha256:' + 'Z'.repeat(64), size: 1 }] }))), 'E_DIGEST_INVALID', /^layers\[1\].digest: /],
    ['a bad config size', () => parseManifest(j(ociManifest({ config: { mediaType: OCI_CONFIG, digest: D1, size: -5 } }))), 'E_MANIFEST_INVALID', /^config.size: must be a non-negative integer, got number -5$/],
    ['Docker v2s2 without mediaType', () => parseManifest(j(dockerManifest({ mediaType: undefined })), DOCKER_MANIFEST), 'E_MANIFEST_INVALID', /^mediaType: missing; a Docker schema 2 manifest must declare its mediaType$/],
    ['Docker v2s2 with an OCI layer', () => parseManifest(j(dockerManifest({ layers: [{ mediaType: OCI_LAYER_GZIP, digest: D2, size: 1 }] }))), 'E_MANIFEST_INVALID', /^layers\[0\].mediaType: "application\/vnd.oci.image.layer.v1.tar\+gzip" is not a Docker schema 2 layer type$/],
    ['an undecidable document', () => parseManifest(j({ schemaVersion: 2 })), 'E_MANIFEST_INVALID', /^config: missing; an OCI image manifest/],
    ['a config of the wrong shape', () => parseManifest(j({ schemaVersion: 2, config: 'x' })), 'E_MANIFEST_INVALID', /^mediaType: missing, and the content does not identify the manifest type/],
  ];

  it.each(cases)('refuses %s', (_why, fn, code, message) => {
    const e = errOf(fn);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });

  it('puts the path into the error details', () => {
    try {
      parseManifest(j(ociIndex({ manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: -1 }] })));
    } catch (e) {
      expect(isPlaitError(e) && e.details.path).toBe('manifests[0].size');
    }
  });
});

describe('parseManifestList', () => {
  it('returns lists and refuses single images', () => {
    expect(parseManifestList(j(dockerList())).mediaType).toBe(DOCKER_LIST);
    const e = errOf(() => parseManifestList(j(ociManifest())));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toBe(`not a manifest list: the document is an OCI image manifest (${OCI_MANIFEST})`);
  });
});

describe('guessMediaType (containers/image GuessMIMEType)', () => {
  const cases: Array<[string, string | Uint8Array, string]> = [
    ['a recognised mediaType', j({ mediaType: DOCKER_LIST }), DOCKER_LIST],
    ['a recognised mediaType, whatever schemaVersion', j({ schemaVersion: 7, mediaType: OCI_INDEX }), OCI_INDEX],
    ['schema 1 with signatures', j({ schemaVersion: 1, signatures: [] }), DOCKER_SCHEMA1_SIGNED],
    ['schema 1 without signatures', j({ schemaVersion: 1, signatures: null }), DOCKER_SCHEMA1],
    ['an OCI config', j({ schemaVersion: 2, config: { mediaType: OCI_CONFIG } }), OCI_MANIFEST],
    ['a Docker config', j({ schemaVersion: 2, config: { mediaType: DOCKER_CONFIG } }), DOCKER_MANIFEST],
    ['manifests without config', j({ schemaVersion: 2, manifests: [{ digest: D1 }] }), OCI_INDEX],
    ['manifests with a custom config type', j({ schemaVersion: 2, config: { mediaType: 'x/custom' }, manifests: [{}] }), 'x/custom'],
    ['empty manifests', j({ schemaVersion: 2, manifests: [] }), OCI_MANIFEST],
    ['a bare schemaVersion 2', j({ schemaVersion: 2 }), OCI_MANIFEST],
    ['an unknown mediaType with schemaVersion 2', j({ schemaVersion: 2, mediaType: 'x/y' }), OCI_MANIFEST],
    ['no schemaVersion', j({ mediaType: 'x/y' }), ''],
    ['invalid JSON', '{', ''],
    ['null', 'null', ''],
    ['an array', '[1]', ''],
    ['a numeric mediaType', j({ schemaVersion: 2, mediaType: 3, manifests: [{}] }), ''],
    ['a string schemaVersion', j({ schemaVersion: '2', mediaType: OCI_INDEX }), ''],
    ['a fractional schemaVersion', j({ schemaVersion: 2.5 }), ''],
    ['an undecodable manifests entry', j({ schemaVersion: 2, manifests: [{ size: 'x' }] }), ''],
    ['manifests as a string', j({ schemaVersion: 2, manifests: 'x' }), ''],
    ['config as a string', j({ schemaVersion: 2, config: 'x' }), ''],
  ];
  it.each(cases)('%s', (_why, bytes, want) => {
    expect(guessMediaType(bytes)).toBe(want);
  });
});
