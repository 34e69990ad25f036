// Media types of the OCI image-spec and of Docker's registry formats, as containers/image names and orders them.

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_EMPTY_JSON = 'application/vnd.oci.empty.v1+json';
export const OCI_LAYOUT_HEADER = 'application/vnd.oci.layout.header.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const OCI_LAYER_NONDISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
export const OCI_LAYER_NONDISTRIBUTABLE_GZIP = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
export const OCI_LAYER_NONDISTRIBUTABLE_ZSTD = 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar';
export const DOCKER_FOREIGN_LAYER_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

/**
 * Instance annotation containers/image sets on OCI index entries whose layers are zstd; consumers since CI v5.25
 * prefer such entries on a platform tie.
 */
export const ANNOTATION_ZSTD_INSTANCE = 'io.github.containers.compression.zstd';

export type ListMediaType = typeof OCI_INDEX | typeof DOCKER_LIST;
export type ImageManifestMediaType = typeof OCI_MANIFEST | typeof DOCKER_MANIFEST;
/** The four manifest types plait reads and writes (schema 1 is recognised but refused). */
export type SupportedManifestMediaType = ListMediaType | ImageManifestMediaType;

/**
 * The Accept list, in the order containers/image sends it. All six must be offered: distribution 2.8 answers 404 for
 * OCI content when the OCI types are missing, and rewrites Docker v2s2 to schema 1 when the Docker type is missing.
 */
export const ALL_MANIFEST_TYPES: readonly string[] = Object.freeze([
  OCI_MANIFEST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1_SIGNED,
  DOCKER_SCHEMA1,
  DOCKER_LIST,
  OCI_INDEX,
]);

export function isListType(mediaType: string): mediaType is ListMediaType {
  return mediaType === OCI_INDEX || mediaType === DOCKER_LIST;
}

/** Single-image manifest types, including the two schema 1 flavours (see isSchema1 to tell those apart). */
export function isImageManifestType(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST || isSchema1(mediaType);
}

export function isSchema1(mediaType: string): boolean {
  return mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED;
}

export function isSupportedManifestType(mediaType: string): mediaType is SupportedManifestMediaType {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST || isListType(mediaType);
}

/**
 * The bare type of a Content-Type header: parameters dropped, trimmed, lower-cased (media types are
 * case-insensitive, and containers/image compares them after Go's mime.ParseMediaType lower-cases them).
 */
export function normaliseMediaType(contentType: string | undefined | null): string {
  if (contentType == null) return '';
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
