import { PlaitError, ErrorCodes, isPlaitError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { parseDigest } from '../../oci/digest.js';
import { DOCKER_LIST } from '../../oci/mediatype.js';
import type { Store } from '../store/index.js';
import { List } from './list.js';
import type { AddOptions } from './list.js';
import { parseAnnotations } from './manifests.js';

// What libimage's ManifestList methods do around the core: every read-modify-write takes the list's lock, reloads
// the list from the store, changes it and saves it under the same ID before the lock is released — so concurrent
// processes adding to one list never lose each other's instances (LockerForImage, §8).

export interface InstanceOverrides {
  os?: string;
  arch?: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
  features?: string[];
  annotations?: string[];
}

/** Create an empty list record (a Docker list with "manifests":null, as libimage's CreateManifestList saves it). */
export async function createList(store: Store, name: string, annotations?: string[]): Promise<{ id: string; list: List }> {
  if (await store.resolve(name)) {
    throw new PlaitError(ErrorCodes.E_CONFLICT, `a list named ${name} already exists in the store ${store.root}`);
  }
  const list = List.create();
  const ann = parseAnnotations(annotations);
  // Index annotations make the stored type an OCI index at once (preferOCI); without them it is a Docker list.
  if (ann) list.list.setAnnotations(null, ann);
  const id = await list.saveToImage(store, '', [name], ann ? '' : DOCKER_LIST);
  return { id, list };
}

/** Lock, reload, change, save — the shape of every modification. */
export async function modifyList<T>(store: Store, nameOrId: string, fn: (list: List) => Promise<T> | T): Promise<{ id: string; result: T }> {
  const rec = await store.getRecord(nameOrId);
  return store.withListLock(rec.id, async () => {
    const { id, list } = await List.loadFromImage(store, rec.id);
    const result = await fn(list);
    await list.saveToImage(store, id, [], '');
    return { id, result };
  }, { label: nameOrId });
}

export function applyOverrides(list: List, digest: Digest, o: InstanceOverrides): void {
  if (o.os !== undefined) list.list.setOS(digest, o.os);
  if (o.arch !== undefined) list.list.setArchitecture(digest, o.arch);
  if (o.variant !== undefined) list.list.setVariant(digest, o.variant);
  if (o.osVersion !== undefined) list.list.setOSVersion(digest, o.osVersion);
  if (o.osFeatures !== undefined) list.list.setOSFeatures(digest, o.osFeatures);
  if (o.features !== undefined) list.list.setFeatures(digest, o.features);
  const ann = parseAnnotations(o.annotations);
  if (ann) list.list.setAnnotations(digest, ann);
}

/** `manifest add`: Add, then the overrides on the instance it returned. */
export async function addToList(store: Store, nameOrId: string, ref: string, opts: AddOptions & InstanceOverrides = {}): Promise<{ id: string; digest: Digest }> {
  const { id, result } = await modifyList(store, nameOrId, async (list) => {
    const digest = await list.add(ref, { ...opts, store });
    applyOverrides(list, digest, opts);
    return digest;
  });
  return { id, digest: result };
}

/** `manifest annotate`: the instance's fields, or with `index` the index's annotations. */
export async function annotateList(store: Store, nameOrId: string, target: string | null, o: InstanceOverrides): Promise<{ id: string }> {
  const { id } = await modifyList(store, nameOrId, (list) => {
    if (target === null) {
      const ann = parseAnnotations(o.annotations);
      if (ann) list.list.setAnnotations(null, ann);
      return;
    }
    applyOverrides(list, resolveInstance(list, target), o);
  });
  return { id };
}

export async function removeFromList(store: Store, nameOrId: string, instance: string): Promise<{ id: string; digest: Digest }> {
  const { id, result } = await modifyList(store, nameOrId, (list) => {
    const d = resolveInstance(list, instance);
    list.remove(d);
    return d;
  });
  return { id, digest: result };
}

/** An instance named by its full digest (or the bare hex), which must be in the list. */
export function resolveInstance(list: List, s: string): Digest {
  let d: Digest;
  try {
    d = parseDigest(s.includes(':') ? s : `sha256:${s}`);
  } catch (e) {
    if (isPlaitError(e)) throw new PlaitError(ErrorCodes.E_INVALID, `${s} is not an instance digest`);
    throw e;
  }
  if (!list.list.instances().includes(d)) {
    throw new PlaitError(ErrorCodes.E_NOT_FOUND, `no instance ${d} in the list`);
  }
  return d;
}
