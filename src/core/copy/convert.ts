import { PlaitError, ErrorCodes } from '../../errors.js';
import { digestOf } from '../../oci/digest.js';
import { goMarshal, goMap, omitEmpty, serializeDockerList, serializeDockerManifest, serializeOCIIndex, serializeOCIManifest } from '../../oci/gojson.js';
import {
  DOCKER_CONFIG, DOCKER_FOREIGN_LAYER, DOCKER_FOREIGN_LAYER_GZIP, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_LIST,
  DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_NONDISTRIBUTABLE,
  OCI_LAYER_NONDISTRIBUTABLE_GZIP, OCI_MANIFEST,
} from '../../oci/mediatype.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../../oci/types.js';

// Manifest and list format conversion as containers/image does it on push (§4.4-9, §4.5-4): OCI → Docker v2s2 keeps
// the config bytes and renames media types; Docker v2s2 → OCI re-encodes the config as an OCI image config (so its
// digest changes); lists convert entry by entry. Anything that cannot be expressed is refused, never approximated.

const OCI_TO_DOCKER_LAYER: Record<string, string> = {
  [OCI_LAYER]: DOCKER_LAYER,
  [OCI_LAYER_GZIP]: DOCKER_LAYER_GZIP,
  [OCI_LAYER_NONDISTRIBUTABLE]: DOCKER_FOREIGN_LAYER,
  [OCI_LAYER_NONDISTRIBUTABLE_GZIP]: DOCKER_FOREIGN_LAYER_GZIP,
};
const DOCKER_TO_OCI_LAYER: Record<string, string> = Object.fromEntries(Object.entries(OCI_TO_DOCKER_LAYER).map(([k, v]) => [v, k]));

export interface Converted {
  bytes: Buffer;
  mediaType: string;
  /** A new config blob to upload (Docker → OCI only). */
  config?: { bytes: Buffer; descriptor: Descriptor };
}

export function ociToDocker(m: ImageManifest, subject: string): Converted {
  if (m.config.mediaType !== OCI_CONFIG) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${subject}: cannot convert an artifact (config ${m.config.mediaType}) to Docker schema2`);
  }
  const layers = m.layers.map((l) => {
    const mt = OCI_TO_DOCKER_LAYER[l.mediaType];
    if (!mt) throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${subject}: layer ${l.digest} (${l.mediaType}) cannot be expressed in Docker schema2 (zstd needs an OCI manifest)`);
    return { ...l, mediaType: mt };
  });
  const bytes = serializeDockerManifest({ schemaVersion: 2, config: { ...m.config, mediaType: DOCKER_CONFIG }, layers });
  return { bytes, mediaType: DOCKER_MANIFEST };
}

export function dockerToOci(m: ImageManifest, configBytes: Buffer, subject: string): Converted {
  const layers = m.layers.map((l) => {
    const mt = DOCKER_TO_OCI_LAYER[l.mediaType];
    if (!mt) throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${subject}: layer ${l.digest} has unknown type ${l.mediaType}`);
    return { ...l, mediaType: mt };
  });
  const cfg = ociConfigBytes(configBytes, subject);
  const configDesc: Descriptor = { mediaType: OCI_CONFIG, digest: digestOf(cfg), size: cfg.length };
  const bytes = serializeOCIManifest({ schemaVersion: 2, config: configDesc, layers });
  return { bytes, mediaType: OCI_MANIFEST, config: { bytes: cfg, descriptor: configDesc } };
}

// Go's encoding of a time.Time (RFC 3339 with nanoseconds, trailing zeros trimmed, "Z" for a zero offset).
export function goTime(s: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw new PlaitError(ErrorCodes.E_INVALID, `not an RFC 3339 time: ${JSON.stringify(s)}`);
  const frac = (m[3] ?? '').slice(0, 9).replace(/0+$/, '');
  const zone = m[4]!.toUpperCase() === 'Z' || m[4] === '+00:00' || m[4] === '-00:00' ? 'Z' : m[4]!;
  return `${m[1]}T${m[2]}${frac ? `.${frac}` : ''}${zone}`;
}

type Obj = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const strs = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
const set = (v: unknown) => (v && typeof v === 'object' ? goMap(Object.fromEntries(Object.keys(v).map((k) => [k, {}]))) : undefined);

/** A Docker image config re-encoded through image-spec's Image struct, as containers/image's OCIConfig() does. */
export function ociConfigBytes(dockerConfig: Buffer, subject: string): Buffer {
  let c: Obj;
  try {
    c = JSON.parse(dockerConfig.toString('utf8')) as Obj;
  } catch {
    throw new PlaitError(ErrorCodes.E_MANIFEST_INVALID, `${subject}: the image config is not JSON`);
  }
  const cc = (c.config && typeof c.config === 'object' ? c.config : {}) as Obj;
  const rootfs = (c.rootfs && typeof c.rootfs === 'object' ? c.rootfs : {}) as Obj;
  const history = Array.isArray(c.history) ? (c.history as Obj[]) : undefined;
  return goMarshal({
    created: typeof c.created === 'string' ? goTime(c.created) : undefined,
    author: omitEmpty(str(c.author)),
    architecture: str(c.architecture),
    os: str(c.os),
    'os.version': omitEmpty(str(c['os.version'])),
    'os.features': omitEmpty(strs(c['os.features'])),
    variant: omitEmpty(str(c.variant)),
    config: {
      User: omitEmpty(str(cc.User)),
      ExposedPorts: omitEmpty(set(cc.ExposedPorts)),
      Env: omitEmpty(strs(cc.Env)),
      Entrypoint: omitEmpty(strs(cc.Entrypoint)),
      Cmd: omitEmpty(strs(cc.Cmd)),
      Volumes: omitEmpty(set(cc.Volumes)),
      WorkingDir: omitEmpty(str(cc.WorkingDir)),
      Labels: cc.Labels && typeof cc.Labels === 'object' ? omitEmpty(goMap(cc.Labels as Record<string, string>)) : undefined,
      StopSignal: omitEmpty(str(cc.StopSignal)),
      ArgsEscaped: cc.ArgsEscaped === true ? true : undefined,
    },
    rootfs: { type: str(rootfs.type), diff_ids: strs(rootfs.diff_ids) ?? null },
    history: history && history.length > 0 ? history.map((h) => ({
      created: typeof h.created === 'string' ? goTime(h.created) : undefined,
      created_by: omitEmpty(str(h.created_by)),
      author: omitEmpty(str(h.author)),
      comment: omitEmpty(str(h.comment)),
      empty_layer: h.empty_layer === true ? true : undefined,
    })) : undefined,
  });
}

/** An index or list converted to `target` the way containers/image converts on push. */
export function convertList(index: ImageIndex, from: string, target: string, runtime: { os: string; architecture: string }): Buffer {
  if (target === OCI_INDEX) {
    // Docker → OCI: features have no place in an OCI index.
    const manifests = index.manifests && index.manifests.map((d) => {
      const { features: _f, ...platform } = d.platform ?? { architecture: '', os: '' };
      return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.urls && { urls: d.urls }), platform };
    });
    return serializeOCIIndex(from === OCI_INDEX ? index : { schemaVersion: 2, manifests });
  }
  if (target === DOCKER_LIST) {
    if (from === DOCKER_LIST) return serializeDockerList(index);
    // OCI → Docker: an entry without a platform gets the runtime's; annotations, artifactType and data are dropped.
    const manifests = index.manifests && index.manifests.map((d) => ({
      ...d, platform: d.platform ?? { architecture: runtime.architecture, os: runtime.os },
    }));
    return serializeDockerList({ schemaVersion: 2, manifests });
  }
  throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `cannot write a list as ${target}`);
}
