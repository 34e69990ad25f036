import type { TestProject } from 'vitest/node';
import { startLab } from './lab.js';
import type { LabInfo } from './lab.js';
import { makePeerFixtures } from './peers.js';
import type { PeerFixtures } from './peers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    lab: LabInfo;
    peers: PeerFixtures;
  }
}

// Started once for the integration project; the returned function is vitest's teardown. The registries also die with
// this process if teardown never runs (see proc.ts).
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const lab = await startLab({ keep: process.env.PLAIT_LAB_KEEP === '1' });
  try {
    const peers = await makePeerFixtures(lab.info);
    project.provide('lab', lab.info);
    project.provide('peers', peers);
  } catch (e) {
    await lab.stop();
    throw e;
  }
  return () => lab.stop();
}
