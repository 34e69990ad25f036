import { stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { ErrorCodes, PlaitError } from '../../errors.js';
import { getFact, putFact } from './facts.js';
import { checkId, errnoCode, isId, Layout, storeError } from './layout.js';
import { withFileLock } from './lock.js';
import type { LockedFn, LockOptions } from './lock.js';
import * as records from './records.js';
import type { CreateRecordOptions } from './records.js';
import type { ListRecord } from './recordfile.js';
import { sweepRecordDebris, sweepTempFiles } from './sweep.js';

/**
 * The embedded default store: manifest-list records (containers/storage image records with named data items), a
 * names index, per-list locks and a digest-keyed facts cache, all under one root directory that is created lazily.
 */
export class Store {
  readonly root: string;
  private readonly layout: Layout;
  // Debris sweeps cost a readdir; once per record (and once for lists/) per Store is enough.
  private readonly sweptRecords = new Set<string>();
  private sweptLists = false;

  private constructor(root: string) {
    this.root = root;
    this.layout = new Layout(root);
  }

  static async open(root: string): Promise<Store> {
    const abs = resolvePath(root);
    try {
      if (!(await stat(abs)).isDirectory()) {
        throw new PlaitError(ErrorCodes.E_STORE, `store: ${abs} is not a directory`, { details: { path: abs } });
      }
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw storeError('cannot open', abs, e);
    }
    return new Store(abs);
  }

  async createRecord(options: CreateRecordOptions): Promise<string> {
    await this.sweepLists();
    return records.createRecord(this.layout, options);
  }

  async writeItems(id: string, items: Readonly<Record<string, Buffer>>): Promise<void> {
    await this.openRecordDir(id);
    return records.writeItems(this.layout, id, items);
  }

  async readItem(id: string, item: string): Promise<Buffer | undefined> {
    await this.openRecordDir(id);
    return records.readItem(this.layout, id, item);
  }

  resolve(nameOrId: string): Promise<string | undefined> {
    return records.resolve(this.layout, nameOrId);
  }

  async getRecord(nameOrId: string): Promise<ListRecord> {
    const record = await records.getRecord(this.layout, nameOrId);
    await this.openRecordDir(record.id);
    return record;
  }

  /** Like getRecord, but undefined when there is no such list. */
  async findRecord(nameOrId: string): Promise<ListRecord | undefined> {
    const record = await records.findRecord(this.layout, nameOrId);
    if (record !== undefined) await this.openRecordDir(record.id);
    return record;
  }

  async listRecords(): Promise<ListRecord[]> {
    await this.sweepLists();
    return records.listRecords(this.layout);
  }

  addNames(id: string, names: readonly string[]): Promise<void> {
    return records.addNames(this.layout, id, names);
  }

  removeNames(id: string, names: readonly string[]): Promise<void> {
    return records.removeNames(this.layout, id, names);
  }

  async deleteRecord(nameOrId: string): Promise<string> {
    await this.sweepLists();
    const id = await records.deleteRecord(this.layout, nameOrId);
    this.sweptRecords.delete(id);
    return id;
  }

  /** The lock target of a list; proper-lockfile's lock dir is this path plus `.lock`. */
  lockPath(id: string): string {
    return this.layout.lockTarget(id);
  }

  /** Runs `fn` holding the list's exclusive lock (cross-process and in-process); see lock.ts. */
  async withListLock<T>(id: string, fn: LockedFn<T>, options: LockOptions = {}): Promise<T> {
    checkId(id);
    return withFileLock(this.layout.lockTarget(id), `list ${options.label ?? id}`, fn, options);
  }

  getFact<T>(kind: string, digest: string, guard?: (v: unknown) => v is T): Promise<T | undefined> {
    return getFact(this.layout, kind, digest, guard);
  }

  putFact(kind: string, digest: string, value: unknown): Promise<void> {
    return putFact(this.layout, kind, digest, value);
  }

  private async openRecordDir(id: string): Promise<void> {
    if (!isId(id) || this.sweptRecords.has(id)) return;
    this.sweptRecords.add(id);
    await sweepTempFiles(this.layout.recordDir(id));
  }

  private async sweepLists(): Promise<void> {
    if (this.sweptLists) return;
    this.sweptLists = true;
    await sweepRecordDebris(this.layout.lists);
  }
}
