import { isKubeError } from './kube/client.js';
import type { KubeClient, WatchEvent } from './kube/client.js';
import { Backoff, sleep } from './backoff.js';

// List, then watch from the list's resourceVersion, keeping a cache of the objects by namespace/name. The watch is
// re-opened from the last resourceVersion seen (bookmarks keep it fresh) whenever the server ends it; a 410 Gone (the
// version was compacted away) or any other failure relists, with jittered backoff between failures. A relist reports
// every object again (update) and the vanished ones as deletes, so a handler misses nothing across outages.

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export type InformerHandler = (type: 'add' | 'update' | 'delete', obj: KubeObject) => void;

export interface InformerOptions {
  /** Collection path without query, e.g. /apis/plait.dev/v1alpha1/manifestlists. */
  path: string;
  labelSelector?: string;
  /** Seconds the server keeps one watch open (default 300, randomised ±10% as client-go does). */
  watchSeconds?: number;
  onError?: (e: unknown) => void;
}

export function objectKey(o: { metadata: { name: string; namespace?: string } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export class Informer {
  readonly cache = new Map<string, KubeObject>();
  private resourceVersion = '';
  private synced = false;
  private readonly handlers: InformerHandler[] = [];
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  /** Counts for tests and metrics. */
  lists = 0;
  watches = 0;
  /** 410 Gone answers: each one relists. */
  gone = 0;

  constructor(private readonly client: KubeClient, private readonly opts: InformerOptions) {}

  on(handler: InformerHandler): void {
    this.handlers.push(handler);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Starts listing and watching; resolves after the first list. */
  async start(): Promise<void> {
    let first!: () => void;
    const listed = new Promise<void>((r) => (first = r));
    this.loop = this.run(first);
    await Promise.race([listed, this.loop]);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop?.catch(() => undefined);
  }

  private emit(type: 'add' | 'update' | 'delete', obj: KubeObject): void {
    for (const h of this.handlers) h(type, obj);
  }

  private async list(): Promise<void> {
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.request<{ metadata?: { resourceVersion?: string; continue?: string }; items?: KubeObject[] }>('GET', this.opts.path, {
        query: { limit: 500, continue: cont, labelSelector: this.opts.labelSelector },
        signal: this.abort.signal,
      });
      this.lists++;
      for (const item of page.items ?? []) {
        const key = objectKey(item);
        seen.add(key);
        const known = this.cache.has(key);
        this.cache.set(key, item);
        this.emit(known ? 'update' : 'add', item);
      }
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    for (const [key, obj] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', obj);
      }
    }
    this.resourceVersion = rv;
    this.synced = true;
  }

  /** Applies one event; false ends this watch (an in-stream error: 410 Gone relists, others re-watch). */
  private handle(e: WatchEvent): boolean {
    const obj = e.object as unknown as KubeObject;
    if (e.type === 'ERROR') {
      const code = (e.object as { code?: number }).code;
      if (code === 410) {
        this.gone++;
        this.resourceVersion = '';
      } else {
        this.opts.onError?.(new Error(`watch ${this.opts.path}: ${String((e.object as { message?: string }).message ?? code)}`));
      }
      return false;
    }
    if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (e.type === 'BOOKMARK') return true;
    const key = objectKey(obj);
    if (e.type === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', obj);
    } else {
      const known = this.cache.has(key);
      this.cache.set(key, obj);
      this.emit(known ? 'update' : 'add', obj);
    }
    return true;
  }

  private async run(listed: () => void): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    const base = this.opts.watchSeconds ?? 300;
    while (!this.abort.signal.aborted) {
      try {
        if (this.resourceVersion === '') {
          await this.list();
          listed();
        }
        this.watches++;
        const seconds = Math.max(1, Math.round(base * (0.9 + Math.random() * 0.2)));
        let events = 0;
        await this.client.watch(this.opts.path, {
          resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: seconds, labelSelector: this.opts.labelSelector,
        }, (e) => {
          events++;
          return this.handle(e);
        }, this.abort.signal);
        // A watch that ended normally is re-opened at once; one that ended with nothing in it right away may be a
        // server that is going away: do not spin.
        if (events === 0) await sleep(200, this.abort.signal);
        backoff.reset();
      } catch (e) {
        if (this.abort.signal.aborted) return;
        if (isKubeError(e, 410)) {
          this.gone++;
          this.resourceVersion = '';
          continue;
        }
        this.opts.onError?.(e);
        await sleep(backoff.next(), this.abort.signal);
      }
    }
  }
}
