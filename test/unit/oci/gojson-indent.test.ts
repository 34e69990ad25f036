import { describe, it, expect } from 'vitest';
import { goIndent, serializeDockerList } from '../../../src/oci/gojson.js';

// goIndent against what Go's json.MarshalIndent writes: the Docker list below is the layout manifest-tool v2.2.1
// pushed for two OCI instances in the lab (its bytes, digest included, reproduced by the interop test).

describe('goIndent', () => {
  it('lays a list out as json.MarshalIndent with two spaces', () => {
    const d = (c: string) => `sha256:${c.repeat(64)}` as const;
    const compact = serializeDockerList({
      schemaVersion: 2, manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 401, digest: d('a'), platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 402, digest: d('b'), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    });
    expect(goIndent(compact, '  ').toString()).toBe([
      '{', '  "schemaVersion": 2,', '  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",', '  "manifests": [',
      '    {', '      "mediaType": "application/vnd.oci.image.manifest.v1+json",', '      "size": 401,', `      "digest": "${d('a')}",`,
      '      "platform": {', '        "architecture": "amd64",', '        "os": "linux"', '      }', '    },',
      '    {', '      "mediaType": "application/vnd.oci.image.manifest.v1+json",', '      "size": 402,', `      "digest": "${d('b')}",`,
      '      "platform": {', '        "architecture": "arm64",', '        "os": "linux",', '        "variant": "v8"', '      }', '    }',
      '  ]', '}'].join('\n'));
  });

  it('keeps empty objects and arrays on one line, and string contents (escapes, punctuation) as they are', () => {
    const src = Buffer.from('{"a":[],"b":{},"c":"x\\"y,:{[\\u003c","d":[1,{"e":null}]}');
    expect(goIndent(src, '\t').toString()).toBe('{\n\t"a": [],\n\t"b": {},\n\t"c": "x\\"y,:{[\\u003c",\n\t"d": [\n\t\t1,\n\t\t{\n\t\t\t"e": null\n\t\t}\n\t]\n}');
    // Whitespace outside strings is dropped first, so indenting twice gives the same bytes.
    const once = goIndent(src, '  ');
    expect(goIndent(once, '  ').equals(once)).toBe(true);
  });
});
