import { describe, it, expect } from 'vitest';
import { ManifestList, parseAnnotations } from '../../../src/core/list/manifests.js';
import { ociConfigBytes, goTime, convertList, ociToDocker } from '../../../src/core/copy/convert.js';
import type { Digest } from '../../../src/oci/digest.js';

// containers/common pkg/manifests semantics, byte for byte where bytes are involved.

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const OCI_M = 'application/vnd.oci.image.manifest.v1+json';

describe('ManifestList', () => {
  it('an empty list is a Docker list with "manifests":null; after add+remove it is [] (and OCI)', () => {
    const l = ManifestList.create();
    expect(l.serialize().toString()).toBe('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":null}');
    l.addInstance({ digest: d('a'), size: 10, mediaType: OCI_M, os: 'linux', architecture: 'amd64' });
    expect(l.defaultMediaType()).toBe('application/vnd.oci.image.index.v1+json');
    l.remove(d('a'));
    expect(l.serialize('application/vnd.oci.image.index.v1+json').toString()).toBe('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
    expect(() => l.remove(d('a'))).toThrow(/no instance matching digest/);
  });

  it('re-adding a digest moves it to the end; platforms without fields are absent in OCI, present in Docker', () => {
    const l = ManifestList.create();
    l.addInstance({ digest: d('a'), size: 1, mediaType: OCI_M, os: 'linux', architecture: 'amd64' });
    l.addInstance({ digest: d('b'), size: 2, mediaType: OCI_M });
    l.addInstance({ digest: d('a'), size: 3, mediaType: OCI_M, os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(l.instances()).toEqual([d('b'), d('a')]);
    expect(l.serialize('application/vnd.oci.image.index.v1+json').toString()).toContain(`{"mediaType":"${OCI_M}","digest":"${d('b')}","size":2}`);
    expect(l.serialize('application/vnd.docker.distribution.manifest.list.v2+json').toString())
      .toContain(`{"mediaType":"${OCI_M}","size":2,"digest":"${d('b')}","platform":{"architecture":"","os":""}}`);
  });

  it('preferOCI: annotations → OCI; features → Docker; index annotations → OCI', () => {
    const l = ManifestList.create();
    l.addInstance({ digest: d('a'), size: 1, mediaType: OCI_M, os: 'linux', architecture: 'amd64', features: ['sse4'] });
    expect(l.defaultMediaType()).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    l.setAnnotations(null, { 'org.example': '<&>' });
    expect(l.defaultMediaType()).toBe('application/vnd.oci.image.index.v1+json');
    expect(l.serialize().toString()).toMatch(/"annotations":\{"org.example":"\\u003c\\u0026\\u003e"\}\}$/);
    l.clearAnnotations(null);
    l.setAnnotations(d('a'), { z: '1', a: '2' });
    expect(l.serialize().toString()).toContain('"annotations":{"a":"2","z":"1"}');
  });

  it('setters keep both views in step and collapse an emptied OCI platform', () => {
    const l = ManifestList.create();
    l.addInstance({ digest: d('a'), size: 1, mediaType: OCI_M, os: 'linux', architecture: 'arm', variant: 'v7' });
    l.setVariant(d('a'), '');
    l.setOS(d('a'), '');
    l.setArchitecture(d('a'), '');
    expect(l.serialize('application/vnd.oci.image.index.v1+json').toString()).not.toContain('platform');
    l.setOSVersion(d('a'), '10.0.17763.5458');
    l.setOSFeatures(d('a'), ['win32k']);
    expect(l.osVersion(d('a'))).toBe('10.0.17763.5458');
    expect(l.serialize('application/vnd.docker.distribution.manifest.list.v2+json').toString())
      .toContain('"platform":{"architecture":"","os":"","os.version":"10.0.17763.5458","os.features":["win32k"]}');
    expect(() => l.setOS(d('f'), 'linux')).toThrow(/no image instance matching the specified digest/);
  });

  it('fromBlob: a Docker list gets an OCI view with platforms and no URLs; an OCI index keeps annotations', () => {
    const docker = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":5,"digest":"${d('c')}","urls":["https://x"],"platform":{"architecture":"amd64","os":"linux","features":["f"]}}]}`;
    const l = ManifestList.fromBlob(docker);
    expect(l.serialize('application/vnd.docker.distribution.manifest.list.v2+json').toString()).toBe(docker);
    expect(l.urls(d('c'))).toEqual([]);
    expect(l.features(d('c'))).toEqual(['f']);
    const oci = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"${OCI_M}","digest":"${d('e')}","size":7,"annotations":{"k":"v"},"platform":{"architecture":"s390x","os":"linux"}}],"annotations":{"i":"j"}}`;
    expect(ManifestList.fromBlob(oci).serialize().toString()).toBe(oci);
  });

  it('annotations split at the first "="', () => {
    expect(parseAnnotations(['a=b=c', 'k', 'x='])).toEqual({ a: 'b=c', k: '', x: '' });
  });
});

describe('format conversion', () => {
  it('OCI → Docker v2s2 keeps the config bytes and renames media types; zstd is refused', () => {
    const m = {
      schemaVersion: 2 as const, mediaType: OCI_M,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('1'), size: 3 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('2'), size: 4, annotations: { x: 'y' } }],
    };
    expect(ociToDocker(m, 't').bytes.toString()).toBe(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":3,"digest":"${d('1')}"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":4,"digest":"${d('2')}"}]}`);
    expect(() => ociToDocker({ ...m, layers: [{ ...m.layers[0]!, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }] }, 't')).toThrow(/zstd/);
  });

  it('a Docker config re-encoded as image-spec writes it (Go time, struct order, sorted maps)', () => {
    const cfg = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', docker_version: '20.10', created: '2024-01-01T00:00:00.500000000+00:00',
      config: { Labels: { b: '1', a: '2' }, ExposedPorts: { '80/tcp': {} }, Env: ['A=1'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [d('3')] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'x', empty_layer: true }],
    }));
    expect(ociConfigBytes(cfg, 't').toString()).toBe(
      `{"created":"2024-01-01T00:00:00.5Z","architecture":"amd64","os":"linux","config":{"ExposedPorts":{"80/tcp":{}},"Env":["A=1"],"Cmd":["/bin/sh"],"Labels":{"a":"2","b":"1"}},"rootfs":{"type":"layers","diff_ids":["${d('3')}"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"x","empty_layer":true}]}`,
    );
    expect(goTime('2024-02-03T04:05:06.120+02:00')).toBe('2024-02-03T04:05:06.12+02:00');
    expect(() => goTime('yesterday')).toThrow(/RFC 3339/);
  });

  it('OCI index → Docker list: entries without a platform get the runtime platform', () => {
    const out = convertList({ schemaVersion: 2, manifests: [{ mediaType: OCI_M, digest: d('4'), size: 1, annotations: { a: 'b' } }] },
      'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', { os: 'linux', architecture: 'amd64' });
    expect(out.toString()).toBe(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"${OCI_M}","size":1,"digest":"${d('4')}","platform":{"architecture":"amd64","os":"linux"}}]}`);
  });
});
