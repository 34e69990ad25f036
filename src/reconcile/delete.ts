import { openImage } from '../transports/index.js';
import type { TransportOptions } from '../transports/index.js';
import { PlaitError, ErrorCodes } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { destinationRef } from './plan.js';

// Removing what a list pushed (the controller's deletionPolicy: Delete). Only a list the tags still point at is
// removed: a tag that someone (or another list) moved since is somebody else's now. A registry deletes a manifest by
// digest, which drops every tag naming it; the instances stay until the registry's garbage collection finds them
// unreferenced, as with `skopeo delete`.

export interface DeleteResult {
  /** Tags that pointed at the digest and are gone with it. */
  deleted: string[];
  /** Tags that point elsewhere (or nowhere) and were left alone. */
  kept: string[];
}

export async function deletePushedList(destination: { image: string; tags: string[] }, digest: Digest, transport: TransportOptions): Promise<DeleteResult> {
  if (destination.image.startsWith('oci:')) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${destination.image}: deletionPolicy Delete is not supported for oci: destinations (the layout is left as it is)`);
  }
  const deleted: string[] = [];
  const kept: string[] = [];
  for (const tag of destination.tags) {
    const img = openImage(destinationRef(destination.image, tag), transport, 'destination');
    try {
      const r = await img.resolve();
      (r?.digest === digest ? deleted : kept).push(tag);
    } finally {
      await img.close();
    }
  }
  if (deleted.length > 0) {
    const img = openImage(destinationRef(destination.image, deleted[0]!), transport, 'destination');
    try {
      if (!('deleteManifest' in img)) throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${destination.image}: cannot delete manifests`);
      await img.deleteManifest(digest);
    } finally {
      await img.close();
    }
  }
  return { deleted, kept };
}
