import { PlaitError, ErrorCodes } from '../errors.js';
import { formatPlatform, normalisePlatform, platformKey, samePlatform } from '../oci/platform.js';
import type { Platform } from '../oci/types.js';
import type { Store } from '../core/store/index.js';
import { resolveSource } from './sources.js';
import type { Candidate, ResolveMemo, ResolvedSource } from './sources.js';
import type { ReconcileSpec } from './model.js';

// The desired list: every source's instances, narrowed by the spec's platform allowlist, one instance per platform
// (upsert: when two sources yield one platform, the later wins with onConflict: replace, or it is an error), in the
// order their platforms first appear. Platforms compare after normalisation (aarch64 = arm64 = arm64/v8, …).

export interface DesiredEntry extends Candidate {
  /** Normalised platform key used for upsert. */
  key: string;
}

export interface Desired {
  sources: ResolvedSource[];
  entries: DesiredEntry[];
}

/** The key instances are matched by: the normalised platform (os.version and os.features included). */
export function entryKey(p: Platform): string {
  return platformKey(normalisePlatform(p));
}

export async function computeDesired(spec: ReconcileSpec, store: Store, memo?: ResolveMemo): Promise<Desired> {
  const sources = await Promise.all(spec.sources.map((s) => resolveSource(s, store, spec.transport, memo)));
  const slots = new Map<string, DesiredEntry>();
  for (const src of sources) {
    for (const c of src.candidates) {
      if (spec.platforms && !spec.platforms.some((p) => samePlatform(normalisePlatform(p), normalisePlatform(c.platform)))) continue;
      const key = entryKey(c.platform);
      const prev = slots.get(key);
      if (prev && prev.digest !== c.digest && spec.onConflict === 'error') {
        throw new PlaitError(ErrorCodes.E_CONFLICT,
          `${spec.origin}: sources ${prev.source} and ${c.source} both yield ${formatPlatform(c.platform, { osVersion: true })} (onConflict: error)`);
      }
      slots.set(key, { ...c, key });
    }
  }
  if (slots.size === 0) {
    // An empty list is never what anyone meant (and `"manifests": null` is not even a valid index): refuse it before
    // anything is written, saying what the sources offered.
    const offered = [...new Set(sources.flatMap((s) => s.candidates.map((c) => formatPlatform(c.platform, { osVersion: true }))))];
    const filter = spec.platforms ? `spec.platforms [${spec.platforms.map((p) => formatPlatform(p, { osVersion: true })).join(', ')}] matches none of` : 'nothing is left of';
    throw new PlaitError(ErrorCodes.E_INVALID,
      `${spec.origin}: the desired list has no instances: ${filter} what the sources yield (${offered.join(', ') || 'nothing'}); nothing was pushed`);
  }
  return { sources, entries: [...slots.values()] };
}
