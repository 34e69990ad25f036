import { parseManifestList } from '../oci/manifest.js';
import { formatPlatform } from '../oci/platform.js';
import type { Store } from '../core/store/index.js';

// For the plan's add-variant line: the platforms whose instance has no `algorithm` variant yet — neither in the list
// nor remembered in the store's variant cache from an earlier push — so that the line names what a push would
// really recompress, and is left out when nothing lacks one.

export async function variantsLacking(store: Store, listBytes: Buffer, algorithm: string, level?: number): Promise<string[]> {
  const { planVariants, variantAlgorithm } = await import('../core/compression/variants.js');
  const { VariantCache, variantKey } = await import('../core/compression/cache.js');
  const { mediaType, index } = parseManifestList(listBytes);
  const cache = new VariantCache(store);
  const key = variantKey(variantAlgorithm(algorithm), level);
  const out: string[] = [];
  for (const p of planVariants(index, [algorithm], { mediaType })) {
    if (await cache.getManifest(p.source.digest, key)) continue;
    out.push(p.source.platform ? formatPlatform(p.source.platform, { osVersion: true }) : p.source.digest);
  }
  return out;
}
