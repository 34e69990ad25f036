import { classify, entriesSince, logMark } from '../../test/lab/access-log.js';
import type { AccessEntry } from '../../test/lab/access-log.js';

// The registries of the bench and counting what a command sent them, from their own access logs.

export interface BenchRegistry {
  /** "A" or "B" in reports. */
  label: string;
  /** host:port */
  host: string;
  accessLog: string;
}

export interface Traffic {
  requests: number;
  /** classify() per registry, keys prefixed with the registry label when more than one was watched. */
  classes: Record<string, number>;
  /** Manifest PUTs (any registry): the no-op goal wants none. */
  manifestPuts: number;
  /** Bytes the registries sent back (GET bodies). */
  bytesOut: number;
}

/** Run fn while watching the access logs of `regs`; the traffic is read once the logs have settled. */
export async function watch<T>(regs: BenchRegistry[], fn: () => Promise<T>): Promise<{ value: T; traffic: Traffic }> {
  const marks = await Promise.all(regs.map((r) => logMark(r.accessLog)));
  const value = await fn();
  const per: AccessEntry[][] = await Promise.all(regs.map((r, i) => entriesSince(r.accessLog, marks[i]!)));
  const classes: Record<string, number> = {};
  let requests = 0;
  let manifestPuts = 0;
  let bytesOut = 0;
  per.forEach((entries, i) => {
    requests += entries.length;
    for (const e of entries) {
      if (e.method === 'PUT' && e.path.includes('/manifests/')) manifestPuts++;
      bytesOut += e.bytes;
    }
    for (const [k, v] of Object.entries(classify(entries))) {
      const key = regs.length > 1 ? `${regs[i]!.label}: ${k}` : k;
      classes[key] = (classes[key] ?? 0) + v;
    }
  });
  return { value, traffic: { requests, classes, manifestPuts, bytesOut } };
}

/** "HEAD manifests 2, PUT manifests 5, …" sorted by count. */
export function fmtClasses(c: Record<string, number>): string {
  const e = Object.entries(c).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return e.length === 0 ? 'none' : e.map(([k, v]) => `${k} ${v}`).join(', ');
}

const LIST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface ManifestDoc {
  mediaType?: string;
  manifests?: Array<{ digest: string; mediaType?: string }>;
  layers?: Array<{ mediaType: string }>;
}

/** GET a manifest (not counted: callers use it outside watch()). */
export async function getManifest(host: string, repo: string, ref: string): Promise<ManifestDoc | undefined> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: LIST_ACCEPT } });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET ${host}/${repo}:${ref}: ${res.status}`);
  return (await res.json()) as ManifestDoc;
}

/** Instances of the list at host/repo:tag, and how many of them have only zstd layers. */
export async function countZstdInstances(host: string, repo: string, tag: string): Promise<{ instances: number; zstd: number }> {
  const list = await getManifest(host, repo, tag);
  if (!list?.manifests) return { instances: 0, zstd: 0 };
  let zstd = 0;
  for (const m of list.manifests) {
    const doc = await getManifest(host, repo, m.digest);
    const layers = doc?.layers ?? [];
    if (layers.length > 0 && layers.every((l) => l.mediaType.endsWith('+zstd'))) zstd++;
  }
  return { instances: list.manifests.length, zstd };
}
