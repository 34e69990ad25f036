import { randomBytes } from 'node:crypto';
import { microTime } from './kube/client.js';
import type { KubeClient } from './kube/client.js';
import type { KubeObject } from './informer.js';

// events.k8s.io/v1 Events about a ManifestList (pushed, drift, failure). Recording never fails a reconcile: an event
// that cannot be written is logged and dropped. The same event for the same object within a minute is folded into
// one (counted in its note), so a retry loop cannot flood the namespace.

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly identity: { controller: string; instance: string },
    private readonly log: (msg: string) => void,
  ) {}

  async record(obj: KubeObject, type: EventType, reason: string, note: string, action = reason): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const key = `${ns}/${obj.metadata.name}/${type}/${reason}/${note}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < 60_000) return;
    this.recent.set(key, now);
    if (this.recent.size > 5000) for (const [k, t] of this.recent) if (now - t > 60_000) this.recent.delete(k);
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      eventTime: microTime(),
      reportingController: this.identity.controller,
      reportingInstance: this.identity.instance,
      action,
      reason,
      type,
      note: note.slice(0, 1024),
      regarding: {
        apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: ns,
        uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
      },
    };
    try {
      await this.client.request('POST', `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/events`, { body });
    } catch (e) {
      this.log(`event ${reason} for ${ns}/${obj.metadata.name} not recorded: ${(e as Error).message}`);
    }
  }
}
