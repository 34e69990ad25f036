// The controller's fields reach the reconciler as plain data, defaults applied (retryInterval follows interval).

import { describe, expect, it } from 'vitest';
import { toReconcileSpec } from '../../../src/reconcile/from-spec.js';
import { loadSpecs } from '../../../src/reconcile/spec/index.js';

const doc = (extra: string) => `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: web
spec:
  destination:
    image: registry.example.com/acme/web
    tags: [latest]
  sources:
    - image: registry.example.com/acme/web:amd64
${extra}`;

async function reconcileSpec(extra: string) {
  const { specs, problems } = await loadSpecs(['-'], { stdin: doc(extra), context: 'controller', checkLocal: false });
  expect(problems.map(String)).toEqual([]);
  return toReconcileSpec(specs[0]!, {});
}

describe('toReconcileSpec: controller fields', () => {
  it('fills the defaults: interval 10m, timeout 5m, retryInterval = interval, no references', async () => {
    expect((await reconcileSpec('')).controller).toEqual({ interval: '10m', timeout: '5m', retryInterval: '10m', suspend: false, deletionPolicy: 'Orphan' });
    expect((await reconcileSpec('  interval: 1h\n')).controller.retryInterval).toBe('1h');
  });

  it('carries what is written, with the ConfigMap key defaulted to ca.crt', async () => {
    const extra = [
      '  interval: 2m', '  timeout: 90s', '  retryInterval: 30s', '  suspend: true', '  deletionPolicy: Delete',
      '  secretRef: {name: regcred}', '  certSecretRef: {name: registry-tls}', '  caConfigMapRef: {name: registry-ca}', '',
    ].join('\n');
    expect((await reconcileSpec(extra)).controller).toEqual({
      interval: '2m', timeout: '90s', retryInterval: '30s', suspend: true, deletionPolicy: 'Delete',
      secretRef: { name: 'regcred' }, certSecretRef: { name: 'registry-tls' }, caConfigMapRef: { name: 'registry-ca', key: 'ca.crt' },
    });
  });
});
