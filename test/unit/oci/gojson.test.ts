// The Go-compatible encoder. Every expected string below is written out by hand from encoding/json's rules
// (HTML-safe escaping, sorted map keys, omitempty, nil vs empty slices, []byte as base64), not produced by code.

import { describe, expect, it } from 'vitest';
import { isPlaitError } from '../../../src/errors.js';
import {
  GoStruct,
  goMap,
  goMarshal,
  goMarshalString,
  goQuote,
  omitEmpty,
  serializeDockerList,
  serializeDockerManifest,
  serializeOCIIndex,
  serializeOCIManifest,
} from '../../../src/oci/gojson.js';
import { parseManifest } from '../../../src/oci/manifest.js';
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
} from '../../../src/oci/mediatype.js';
import type { Digest } from '../../../src/oci/digest.js';
import type { ImageIndex } from '../../../src/oci/types.js';

const D1 = ('sha256:' + '1'.repeat(64)) as Digest;
const D2 = ('sha256:' + '2'.repeat(64)) as Digest;
const D3 = ('sha256:' + '3'.repeat(64)) as Digest;

describe('goQuote: string escaping', () => {
  it('escapes < > & as \\u003c \\u003e \\u0026', () => {
    expect(goMarshalString({ a: '<x>' })).toBe('{"a":"\\u003cx\\u003e"}');
    expect(goQuote('a&b')).toBe('"a\\u0026b"');
  });

  it('escapes quote and backslash, leaves / and DEL alone', () => {
    expect(goQuote('"\\')).toBe('"\\"\\\\"');
    expect(goQuote('a/b\u007f')).toBe('"a/b\u007f"');
  });

  it('escapes control characters as Go 1.22+ does, or as Go ≤1.21 did', () => {
    expect(goQuote('\n\r\t\u0000\u0001\u001f\b\f')).toBe('"\\n\\r\\t\\u0000\\u0001\\u001f\\b\\f"');
    expect(goQuote('\b\f\u000b', { legacyControlEscapes: true })).toBe('"\\u0008\\u000c\\u000b"');
    expect(goQuote('\u001a')).toBe('"\\u001a"'); // lower-case hex
  });

  it('escapes U+2028 and U+2029', () => {
    expect(goQuote('a\u2028b\u2029c')).toBe('"a\\u2028b\\u2029c"');
  });

  it('writes other non-ASCII as raw UTF-8', () => {
    const bytes = goMarshal('é😀');
    expect([...bytes]).toEqual([0x22, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0x22]);
  });

  it('writes lone surrogates as \\ufffd', () => {
    expect(goQuote('a\ud800b')).toBe('"a\\ufffdb"');
    expect(goQuote('\udc00')).toBe('"\\ufffd"');
    expect(goQuote('\udc00\ud800')).toBe('"\\ufffd\\ufffd"');
    expect(goQuote('x\ud83d')).toBe('"x\\ufffd"');
  });
});

describe('goMarshal: values', () => {
  it('sorts map keys by their UTF-8 bytes, not UTF-16 code units', () => {
    const m = goMap({ b: '1', a: '2', B: '3', é: '4', '😀': '5', 'Ａ': '6' });
    // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) bytewise, after it in UTF-16.
    expect(goMarshalString(m)).toBe('{"B":"3","a":"2","b":"1","é":"4","Ａ":"6","😀":"5"}');
    expect(goMarshalString(new Map([['z', 1], ['y', 2]]))).toBe('{"y":2,"z":1}');
  });

  it('escapes map keys like any string', () => {
    expect(goMarshalString(goMap({ '<k>': 'v' }))).toBe('{"\\u003ck\\u003e":"v"}');
  });

  it('keeps struct field order, skips undefined fields', () => {
    expect(goMarshalString({ z: 1, a: 2, m: undefined, b: 'x' })).toBe('{"z":1,"a":2,"b":"x"}');
    expect(goMarshalString(new GoStruct([['b', 1], ['1', 2]]))).toBe('{"b":1,"1":2}');
  });

  it('tells a nil slice from an empty one', () => {
    expect(goMarshalString({ nil: null, empty: [] })).toBe('{"nil":null,"empty":[]}');
  });

  it('implements omitempty', () => {
    const o = {
      s: omitEmpty(''),
      a: omitEmpty([]),
      n: omitEmpty(0),
      f: omitEmpty(false),
      m: omitEmpty(goMap({})),
      p: omitEmpty(null),
      b: omitEmpty(new Uint8Array()),
      keep: omitEmpty('x'),
      list: omitEmpty(['y']),
      struct: omitEmpty({}),
    };
    expect(goMarshalString(o)).toBe('{"keep":"x","list":["y"],"struct":{}}');
  });

  it('encodes []byte as padded standard base64', () => {
    expect(goMarshalString({ d: new Uint8Array([0xff, 0x00, 0x10]) })).toBe('{"d":"/wAQ"}');
    expect(goMarshalString({ d: new Uint8Array([0xfb, 0xff]) })).toBe('{"d":"+/8="}');
    expect(goMarshalString({ d: new Uint8Array() })).toBe('{"d":""}');
  });

  it('encodes numbers as Go does', () => {
    expect(goMarshalString([0, -0, 123456789, 1.5, 1e21, 1e-7, 0.000001, 123e-20, 9007199254740993n, true, false])).toBe(
      '[0,0,123456789,1.5,1e+21,1e-7,0.000001,1.23e-18,9007199254740993,true,false]',
    );
  });

  it('refuses what Go cannot encode', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, [undefined], undefined, () => 1]) {
      let err: unknown;
      try {
        goMarshal(bad);
      } catch (e) {
        err = e;
      }
      expect(isPlaitError(err, 'E_INTERNAL')).toBe(true);
    }
  });

  it('returns bytes without a trailing newline', () => {
    const b = goMarshal({ a: 1 });
    expect(Buffer.isBuffer(b)).toBe(true);
    expect(b.toString('utf8')).toBe('{"a":1}');
  });
});

const FULL_INDEX: ImageIndex = {
  schemaVersion: 2,
  mediaType: OCI_INDEX,
  artifactType: 'application/vnd.example+type',
  manifests: [
    {
      mediaType: OCI_MANIFEST,
      digest: D1,
      size: 7,
      urls: ['https://example.com/a?x=1&y=2'],
      annotations: { 'z.key': 'last', 'a.key': '<b>' },
      data: 'e30=',
      platform: {
        architecture: 'amd64',
        os: 'windows',
        'os.version': '10.0.17763.1',
        'os.features': ['win32k'],
        variant: '',
        features: ['sse4'],
      },
      artifactType: 'application/vnd.example.thing',
    },
    { mediaType: OCI_MANIFEST, digest: D2, size: 0, urls: [], annotations: {}, platform: { architecture: '', os: '', 'os.features': [] } },
    { mediaType: DOCKER_MANIFEST, digest: D3, size: 9 },
  ],
  subject: { mediaType: OCI_MANIFEST, digest: D3, size: 3 },
  annotations: { 'org.opencontainers.image.source': 'https://example.com/acme/web', 'com.example.note': 'a > b' },
};

describe('serializeOCIIndex', () => {
  it('writes the shape containers/common stores after adding amd64, arm64/v8 and a zstd variant', () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: D1, size: 1234, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: OCI_MANIFEST, digest: D2, size: 1240, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        {
          mediaType: OCI_MANIFEST,
          digest: D3,
          size: 1250,
          annotations: { 'io.github.containers.compression.zstd': 'true' },
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    };
    expect(serializeOCIIndex(index).toString('utf8')).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[' +
        `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D1}","size":1234,"platform":{"architecture":"amd64","os":"linux"}},` +
        `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D2}","size":1240,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},` +
        `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D3}","size":1250,"annotations":{"io.github.containers.compression.zstd":"true"},"platform":{"architecture":"amd64","os":"linux"}}` +
        ']}',
    );
  });

  it('writes every field in struct order with omitempty, sorted and escaped annotations', () => {
    expect(serializeOCIIndex(FULL_INDEX).toString('utf8')).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"application/vnd.example+type","manifests":[' +
        `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D1}","size":7,"urls":["https://example.com/a?x=1\\u0026y=2"],` +
        '"annotations":{"a.key":"\\u003cb\\u003e","z.key":"last"},"data":"e30=",' +
        '"platform":{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"]},' +
        '"artifactType":"application/vnd.example.thing"},' +
        `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D2}","size":0,"platform":{"architecture":"","os":""}},` +
        `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"${D3}","size":9}` +
        `],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D3}","size":3},` +
        '"annotations":{"com.example.note":"a \\u003e b","org.opencontainers.image.source":"https://example.com/acme/web"}}',
    );
  });

  it('writes a nil manifests slice as null and an empty one as []', () => {
    expect(serializeOCIIndex({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: null }).toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}',
    );
    expect(serializeOCIIndex({ schemaVersion: 2, manifests: [] }).toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
    );
  });

  it('re-encodes data canonically and drops empty annotations at index level', () => {
    const out = serializeOCIIndex({
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 2, data: 'e3\n0=' }],
      annotations: {},
    }).toString();
    expect(out).toBe(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D1}","size":2,"data":"e30="}]}`,
    );
  });

  it('keeps an annotation named __proto__ through parse and serialize', () => {
    const bytes = Buffer.from(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"__proto__":"x","a":"y"}}`,
    );
    const parsed = parseManifest(bytes);
    expect(parsed.kind === 'index' && serializeOCIIndex(parsed.index).equals(bytes)).toBe(true);
  });

  it('round-trips: serialize(parse(bytes)) reproduces canonical bytes exactly', () => {
    const bytes = serializeOCIIndex(FULL_INDEX);
    const parsed = parseManifest(bytes, OCI_INDEX);
    expect(parsed.kind).toBe('index');
    if (parsed.kind !== 'index') return;
    expect(serializeOCIIndex(parsed.index).equals(bytes)).toBe(true);
  });
});

describe('serializeDockerList', () => {
  it('writes size before digest, a platform on every entry, features, and no OCI-only fields', () => {
    expect(serializeDockerList(FULL_INDEX).toString('utf8')).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[' +
        `{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7,"digest":"${D1}","urls":["https://example.com/a?x=1\\u0026y=2"],` +
        '"platform":{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"],"features":["sse4"]}},' +
        `{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":0,"digest":"${D2}","platform":{"architecture":"","os":""}},` +
        `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":9,"digest":"${D3}","platform":{"architecture":"","os":""}}` +
        ']}',
    );
  });

  it('writes the freshly created empty list with "manifests":null', () => {
    expect(serializeDockerList({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: null }).toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":null}',
    );
    expect(serializeDockerList({ schemaVersion: 2, manifests: [] }).toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}',
    );
  });

  it('writes a typical two-platform list', () => {
    const list: ImageIndex = {
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [
        { mediaType: DOCKER_MANIFEST, digest: D1, size: 528, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: DOCKER_MANIFEST, digest: D2, size: 528, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
      ],
    };
    expect(serializeDockerList(list).toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[' +
        `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":"${D1}","platform":{"architecture":"amd64","os":"linux"}},` +
        `{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":"${D2}","platform":{"architecture":"arm","os":"linux","variant":"v7"}}` +
        ']}',
    );
    const parsed = parseManifest(serializeDockerList(list));
    expect(parsed.kind === 'index' && serializeDockerList(parsed.index).toString()).toBe(serializeDockerList(list).toString());
  });
});

describe('serializeOCIManifest / serializeDockerManifest', () => {
  it('writes an OCI manifest such as a sigstore .sig manifest', () => {
    const out = serializeOCIManifest({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: D1, size: 2 },
      layers: [
        {
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          digest: D2,
          size: 10,
          annotations: { 'dev.cosignproject.cosign/signature': 'MEUC+/=' },
        },
      ],
    }).toString();
    expect(out).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
        `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"${D1}","size":2},` +
        `"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"${D2}","size":10,"annotations":{"dev.cosignproject.cosign/signature":"MEUC+/="}}]}`,
    );
  });

  it('writes a Docker schema 2 manifest', () => {
    const out = serializeDockerManifest({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: DOCKER_CONFIG, digest: D1, size: 2 },
      layers: [{ mediaType: DOCKER_LAYER_GZIP, digest: D2, size: 10 }],
    }).toString();
    expect(out).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",' +
        `"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"${D1}"},` +
        `"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":10,"digest":"${D2}"}]}`,
    );
  });
});

describe('agreement with a real Go encoder', () => {
  // These lines were checked against json.Marshal of Go 1.19 (Debian bookworm), which still wrote \b and \f as
  // \u0008 and \u000c; hence legacyControlEscapes.
  it('matches Go 1.19 on strings and on map key order', () => {
    const strings = ['<x>', 'a&b', '"\\', 'a/b\u007f', '\n\r\t\u0000\u0001\u001f\b\f\u000b\u001a', 'a\u2028b\u2029c', 'é😀'];
    expect(goMarshalString(strings, { legacyControlEscapes: true })).toBe(
      '["\\u003cx\\u003e","a\\u0026b","\\"\\\\","a/b\u007f","\\n\\r\\t\\u0000\\u0001\\u001f\\u0008\\u000c\\u000b\\u001a","a\\u2028b\\u2029c","é😀"]',
    );
    expect(goMarshalString(goMap({ b: '1', a: '2', B: '3', é: '4', '😀': '5', 'Ａ': '6', '<k>': 'v' }))).toBe(
      '{"\\u003ck\\u003e":"v","B":"3","a":"2","b":"1","é":"4","Ａ":"6","😀":"5"}',
    );
  });

  it('names where an unencodable value sits: fields, slice indexes and map keys', () => {
    const message = (v: unknown) => {
      try {
        goMarshalString(v);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(message({ a: [1, undefined] })).toBe('gojson: undefined slice element at a[1]');
    expect(message({ a: { b: [{ c: () => 1 }] } })).toBe('gojson: cannot encode function at a.b[0].c');
    expect(message({ m: goMap({ 'x y': { z: Symbol('s') } }) })).toBe('gojson: cannot encode symbol at m["x y"].z');
    expect(message([() => 0])).toBe('gojson: cannot encode function at [0]');
    expect(message(() => 0)).toBe('gojson: cannot encode function at (root)');
  });
});
