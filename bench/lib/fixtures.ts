import { join } from 'node:path';
import { generateLayout } from '../../test/lab/fixtures/generate.js';
import type { FixturePlatform, GenerateResult } from '../../test/lab/fixtures/generate.js';
import { skopeoCopy } from '../../test/lab/fixtures/skopeo.js';
import type { BenchRegistry } from './registry.js';
import { MiB } from './stats.js';

// The bench's images, made with the project's deterministic generator and put on registry A with skopeo, once per
// bench run and only when a selected case needs them. Layers are random data stored with gzip level 0 (valid gzip,
// no compression work), so generating a GiB takes seconds, and no tool gains from compressible data.

export interface Sizes {
  /** Layers per platform of the 4-platform list, and their payload size in MiB. */
  listLayers: number;
  listLayerMiB: number;
  /** Single-layer images for the RSS curve, MiB. */
  curve: number[];
  /** Spec counts of the many-specs case; the skopeo loop runs over the first of them. */
  specCounts: number[];
}

export const FULL_SIZES: Sizes = { listLayers: 4, listLayerMiB: 16, curve: [16, 64, 256, 1024], specCounts: [100, 300, 1000] };
export const QUICK_SIZES: Sizes = { listLayers: 4, listLayerMiB: 1, curve: [1, 4, 16], specCounts: [5, 15, 50] };

export const LIST_PLATFORMS: FixturePlatform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 'ppc64le' },
];

export interface ListFixture {
  /** host/repo:tag on registry A. */
  ref: string;
  /** Bytes of every blob and manifest of the list (what a real copy moves). */
  bytes: number;
  instances: number;
  blobs: number;
  /** The instances (image manifests) by digest with their platforms, in list order. */
  children: Array<{ digest: string; platform: FixturePlatform }>;
}

export interface LayerFixture {
  ref: string;
  mib: number;
  /** The layer blob as a file (the curl upload sends it), its digest and size. */
  blobFile: string;
  blobDigest: string;
  blobSize: number;
  bytes: number;
}

export interface SinglesFixture {
  refs: string[];
}

function totalBytes(g: GenerateResult): number {
  let n = g.index?.size ?? 0;
  for (const im of g.images) n += im.manifest.size + im.config.size + im.layers.reduce((a, l) => a + l.size, 0);
  return n;
}

function blobFile(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

export class Fixtures {
  private readonly lists = new Map<string, Promise<ListFixture>>();
  private listLayout?: Promise<GenerateResult>;
  private readonly layers = new Map<number, Promise<LayerFixture>>();
  private singlesP?: Promise<SinglesFixture>;
  /** One line per fixture made, for the report. */
  readonly made: string[] = [];

  constructor(private readonly work: string, private readonly a: BenchRegistry, readonly sizes: Sizes, private readonly log: (s: string) => void) {}

  private note(line: string): void {
    this.made.push(line);
    this.log(`fixture ${line}`);
  }

  /**
   * The 4-platform OCI index as bench/multi:v1 on A, or on another registry as bench/multi-<label>:v1 (made once,
   * pushed to each once). The other name matters: crane copy asks the destination to mount each blob from the
   * source's repository name, so if V held the same blobs under A's name a copy A→V would move no bytes.
   */
  multi(reg: BenchRegistry = this.a): Promise<ListFixture> {
    let p = this.lists.get(reg.host);
    if (!p) {
      p = (async () => {
        const t = Date.now();
        const dir = join(this.work, 'layouts', 'multi');
        this.listLayout ??= generateLayout({
          dir, tag: 'multi', index: true, gzipLevel: 0, seed: 'plait-bench-multi',
          images: LIST_PLATFORMS.map((platform) => ({ platform, layers: this.sizes.listLayers, layerSize: this.sizes.listLayerMiB * MiB, data: 'random' as const })),
        });
        const g = await this.listLayout;
        const ref = `${reg.host}/bench/${reg.label === 'A' ? 'multi' : `multi-${reg.label.toLowerCase()}`}:v1`;
        await skopeoCopy(`oci:${dir}:multi`, `docker://${ref}`, { all: true, destTlsVerify: false });
        const bytes = totalBytes(g);
        this.note(`${ref}${reg.label === 'A' ? '' : ` (registry ${reg.label})`}: OCI index of ${LIST_PLATFORMS.map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/')).join(', ')}, `
          + `${this.sizes.listLayers} × ${this.sizes.listLayerMiB} MiB random layers each, ${(bytes / MiB).toFixed(1)} MiB in ${g.images.length * (this.sizes.listLayers + 2) + 1} blobs and manifests `
          + `(made and pushed in ${((Date.now() - t) / 1000).toFixed(1)} s)`);
        return {
          ref, bytes, instances: g.images.length, blobs: g.images.reduce((a, im) => a + 1 + im.layers.length, 0),
          children: g.images.map((im) => ({ digest: im.manifest.digest, platform: im.platform })),
        };
      })();
      this.lists.set(reg.host, p);
    }
    return p;
  }

  /** A linux/amd64 image with one layer of `mib` MiB on A as bench/layer-<mib>m:v1. */
  layer(mib: number): Promise<LayerFixture> {
    let p = this.layers.get(mib);
    if (!p) {
      p = (async () => {
        const t = Date.now();
        const dir = join(this.work, 'layouts', `layer-${mib}m`);
        const g = await generateLayout({
          dir, tag: `l${mib}m`, gzipLevel: 0, seed: `plait-bench-layer-${mib}`,
          images: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: 1, layerSize: mib * MiB, data: 'random', ref: `l${mib}m` }],
        });
        const ref = `${this.a.host}/bench/layer-${mib}m:v1`;
        await skopeoCopy(`oci:${dir}:l${mib}m`, `docker://${ref}`, { destTlsVerify: false });
        const layer = g.images[0]!.layers[0]!;
        this.note(`${ref}: linux/amd64, one ${mib} MiB random layer (${(layer.size / MiB).toFixed(2)} MiB blob; made and pushed in ${((Date.now() - t) / 1000).toFixed(1)} s)`);
        return { ref, mib, blobFile: blobFile(dir, layer.digest), blobDigest: layer.digest, blobSize: layer.size, bytes: totalBytes(g) };
      })();
      this.layers.set(mib, p);
    }
    return p;
  }

  /** Four small single-platform images on A as bench/single:<platform>, the sources of the many-specs case. */
  singles(): Promise<SinglesFixture> {
    this.singlesP ??= (async () => {
      const dir = join(this.work, 'layouts', 'singles');
      const g = await generateLayout({
        dir, tag: 'single', gzipLevel: 0, seed: 'plait-bench-singles',
        images: LIST_PLATFORMS.map((platform) => ({ platform, layers: 1, layerSize: 4096, data: 'random' as const })),
      });
      const refs: string[] = [];
      for (const im of g.images) {
        const tag = [im.platform.os, im.platform.architecture, im.platform.variant].filter(Boolean).join('-');
        const ref = `${this.a.host}/bench/single:${tag}`;
        await skopeoCopy(`oci:${dir}:${im.ref!}`, `docker://${ref}`, { destTlsVerify: false });
        refs.push(ref);
      }
      this.note(`${this.a.host}/bench/single:{${g.images.map((im) => [im.platform.os, im.platform.architecture, im.platform.variant].filter(Boolean).join('-')).join(',')}}: one 4 KiB layer each (the many-specs sources)`);
      return { refs };
    })();
    return this.singlesP;
  }
}
