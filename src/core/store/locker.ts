import type { LockedFn, LockOptions } from './lock.js';
import type { Store } from './store.js';

/** LockerForImage (§8.1): the lock of one list, identified by the list's id, which re-saves never change. */
export interface ListLocker {
  readonly id: string;
  /** Lock target file; proper-lockfile's lock dir is this path plus `.lock`. */
  readonly lockPath: string;
  withLock<T>(fn: LockedFn<T>, options?: LockOptions): Promise<T>;
}

/** Resolves `nameOrId` to its record (E_NOT_FOUND if there is none) and returns that list's locker. */
export async function lockerForImage(store: Store, nameOrId: string): Promise<ListLocker> {
  const { id } = await store.getRecord(nameOrId);
  return {
    id,
    lockPath: store.lockPath(id),
    withLock: <T>(fn: LockedFn<T>, options: LockOptions = {}) =>
      store.withListLock(id, fn, { ...options, label: options.label ?? nameOrId }),
  };
}
