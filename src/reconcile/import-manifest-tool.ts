import { parse, stringify } from 'yaml';
import { PlaitError, ErrorCodes } from '../errors.js';
import { parseReference, familiarName } from '../oci/reference.js';

// manifest-tool's `push from-spec` YAML (image, tags, manifests[{image, platform}], annotations) as an equivalent
// ManifestList. What manifest-tool does implicitly is made explicit: it pushes to `image` and every tag, writes a
// Docker list unless told `--type oci` (annotations need OCI), flattens list sources, refuses two entries for one
// platform (onConflict: error) and always rebuilds the whole list (prune: true). Its list bytes are reproduced too,
// so that the imported spec gives the digest manifest-tool gave: a Docker list points at the instances as they are
// (convertInstances: false; podman's --format v2s2 would convert OCI ones), and the JSON is laid out as Go's
// MarshalIndent with two spaces (listIndent: 2).

interface MtPlatform { architecture?: string; os?: string; variant?: string; osversion?: string; osfeatures?: string[]; features?: string[] }
interface MtInput { image?: string; tags?: string[]; manifests?: Array<{ image?: string; platform?: MtPlatform }>; annotations?: Record<string, string> }

export interface ImportOptions {
  /** manifest-tool's --type: docker (its default) or oci. */
  type?: 'docker' | 'oci';
  /** metadata.name; default: the target repository's last path component. */
  name?: string;
}

function fail(file: string, msg: string): never {
  throw new PlaitError(ErrorCodes.E_SPEC_INVALID, `${file}: ${msg}`);
}

function dnsName(s: string): string {
  const n = s.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 253);
  return n || 'imported';
}

export function importManifestTool(text: string, file: string, opts: ImportOptions = {}): string {
  let input: MtInput;
  try {
    input = parse(text) as MtInput;
  } catch (e) {
    fail(file, `not YAML: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
  if (!input || typeof input !== 'object') fail(file, 'expected a mapping with image, tags and manifests');
  if (typeof input.image !== 'string' || input.image === '') fail(file, 'image: is required (the target reference)');
  if (!Array.isArray(input.manifests) || input.manifests.length === 0) fail(file, 'manifests: at least one entry is required');
  const target = parseReference(input.image);
  if (target.digest) fail(file, `image: ${input.image} names a digest; a target needs a tag`);
  const tags = [...new Set([target.tag ?? 'latest', ...(input.tags ?? []).map(String)])];
  const type = opts.type ?? (input.annotations && Object.keys(input.annotations).length > 0 ? 'oci' : 'docker');
  if (type === 'docker' && input.annotations && Object.keys(input.annotations).length > 0) {
    fail(file, 'annotations need an OCI index (manifest-tool --type oci); import with --type oci');
  }
  const sources = input.manifests.map((m, i) => {
    if (typeof m?.image !== 'string' || m.image === '') fail(file, `manifests[${i}].image: is required`);
    const p = m.platform;
    if (!p || (!p.os && !p.architecture)) return { image: m.image };
    if (!p.os || !p.architecture) fail(file, `manifests[${i}].platform: needs both os and architecture`);
    const platform = {
      os: p.os, architecture: p.architecture,
      ...(p.variant && { variant: p.variant }),
      ...(p.osversion && { osVersion: String(p.osversion) }),
      ...(p.osfeatures?.length && { osFeatures: p.osfeatures }),
    };
    return { image: m.image, platform };
  });
  const repo = familiarName({ domain: target.domain, path: target.path });
  const doc = {
    apiVersion: 'plait.dev/v1alpha1',
    kind: 'ManifestList',
    metadata: { name: opts.name ?? dnsName(target.path.split('/').pop() ?? 'imported') },
    spec: {
      destination: { image: `${target.domain}/${target.path}`, tags },
      format: type,
      ...(type === 'docker' && { convertInstances: false }),
      listIndent: 2,
      sources,
      onConflict: 'error',
      prune: true,
      ...(input.annotations && Object.keys(input.annotations).length > 0 && { annotations: input.annotations }),
    },
  };
  return `# Imported from manifest-tool spec ${file} (target ${repo})\n${stringify(doc)}`;
}
