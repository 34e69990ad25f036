// The embedded default store (see store.ts); the only entry point other layers import.
export { Store } from './store.js';
export { resolveStoreRoot } from './root.js';
export type { StoreRootOptions } from './root.js';
export type { ListRecord } from './recordfile.js';
export type { CreateRecordOptions } from './records.js';
export type { LockOptions, LockedFn } from './lock.js';
export { DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STALE_MS, warmLocks } from './lock.js';
export { lockerForImage } from './locker.js';
export type { ListLocker } from './locker.js';
