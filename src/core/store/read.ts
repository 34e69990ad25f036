import { readFileSync } from 'node:fs';

// The store's own files — record.json, name files, facts, list items — are small (a list, a few KiB; a history of
// them, a few hundred at most) and local, so each is read in one synchronous call. fs/promises' readFile makes four
// thread-pool round trips (open, fstat, read, close) per file, about 0.2 ms of CPU each time, and a no-op reconcile
// reads some ten of these per spec: with thousands of specs in one run that was most of its time. Errors are the
// same errno errors readFile gives (ENOENT, ENOTDIR, EACCES…), thrown instead of rejected.

export function readStoreFile(path: string): Buffer {
  return readFileSync(path);
}
