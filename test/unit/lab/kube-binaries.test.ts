// A machine without the Go-built parts gets one line saying how to get them, not a spawn stack trace.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

describe('kubeBinaries', () => {
  const saved = process.env.PLAIT_LAB_CACHE;
  afterEach(() => {
    if (saved === undefined) delete process.env.PLAIT_LAB_CACHE;
    else process.env.PLAIT_LAB_CACHE = saved;
    vi.resetModules();
  });

  it('names the missing binaries and npm run setup, on one line', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'plait-cache-'));
    try {
      process.env.PLAIT_LAB_CACHE = empty;
      vi.resetModules();
      const { kubeBinaries, startControlPlane } = await import('../../lab/kube.js');
      let message = '';
      try {
        kubeBinaries();
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toContain(join(empty, 'bin', 'kube-apiserver'));
      expect(message).toContain(join(empty, 'bin', 'helm'));
      expect(message).toContain('npm run setup');
      expect(message).not.toContain('\n');
      await expect(startControlPlane()).rejects.toThrow(/etcd.*not found: run "npm run setup"/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
