// Media type constants and predicates.

import { describe, expect, it } from 'vitest';
import * as oci from '../../../src/oci/index.js';

describe('media types', () => {
  it('lists the six Accept types in containers/image order', () => {
    expect(oci.ALL_MANIFEST_TYPES).toEqual([
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.docker.distribution.manifest.v2+json',
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
      'application/vnd.docker.distribution.manifest.v1+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.oci.image.index.v1+json',
    ]);
    expect(Object.isFrozen(oci.ALL_MANIFEST_TYPES)).toBe(true);
  });

  it('classifies types', () => {
    expect(oci.isListType(oci.OCI_INDEX)).toBe(true);
    expect(oci.isListType(oci.DOCKER_LIST)).toBe(true);
    expect(oci.isListType(oci.OCI_MANIFEST)).toBe(false);
    expect(oci.isImageManifestType(oci.OCI_MANIFEST)).toBe(true);
    expect(oci.isImageManifestType(oci.DOCKER_MANIFEST)).toBe(true);
    expect(oci.isImageManifestType(oci.DOCKER_SCHEMA1_SIGNED)).toBe(true);
    expect(oci.isImageManifestType(oci.OCI_INDEX)).toBe(false);
    expect(oci.isImageManifestType(oci.OCI_CONFIG)).toBe(false);
    expect(oci.isSchema1(oci.DOCKER_SCHEMA1)).toBe(true);
    expect(oci.isSchema1(oci.DOCKER_MANIFEST)).toBe(false);
    expect(oci.isSupportedManifestType(oci.DOCKER_SCHEMA1)).toBe(false);
    expect(oci.isSupportedManifestType(oci.DOCKER_LIST)).toBe(true);
  });

  it('names the layer and config types', () => {
    expect(oci.OCI_LAYER_ZSTD).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    expect(oci.OCI_LAYER_NONDISTRIBUTABLE_GZIP).toBe('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip');
    expect(oci.DOCKER_FOREIGN_LAYER_GZIP).toBe('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip');
    expect(oci.DOCKER_CONFIG).toBe('application/vnd.docker.container.image.v1+json');
    expect(oci.ANNOTATION_ZSTD_INSTANCE).toBe('io.github.containers.compression.zstd');
  });

  it('normalises Content-Type values', () => {
    expect(oci.normaliseMediaType('Application/VND.OCI.Image.Index.v1+json; charset=utf-8')).toBe(oci.OCI_INDEX);
    expect(oci.normaliseMediaType('  application/json  ')).toBe('application/json');
    expect(oci.normaliseMediaType(undefined)).toBe('');
    expect(oci.normaliseMediaType(null)).toBe('');
    expect(oci.normaliseMediaType('')).toBe('');
  });

  it('re-exports the whole public API from the index module', () => {
    for (const name of ['parseDigest', 'parseManifest', 'serializeOCIIndex', 'parsePlatform', 'chooseInstanceOCIIndex', 'parseReference', 'parseImageName', 'MAX_MANIFEST_BYTES']) {
      expect(name in oci).toBe(true);
    }
  });
});
