import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, supervise } from '../../test/lab/proc.js';
import { pingV2 } from '../../test/lab/registry.js';
import { bin } from './peers.js';
import type { BenchRegistry } from './registry.js';

// distribution v3 (`registry serve CONFIG`, built from its Go module) beside Debian's 2.8: plain HTTP on loopback,
// deletes enabled, the access log on stdout in the same combined format the lab's 2.8 writes, so the counting is one.

export interface V3Registry extends BenchRegistry {
  stop(): Promise<void>;
}

function configYaml(port: number, dataDir: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  formatter: text',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: plait-bench-not-secret',
  ].join('\n') + '\n';
}

export async function startV3(dir: string, label: string): Promise<V3Registry> {
  await mkdir(join(dir, 'data'), { recursive: true });
  const accessLog = join(dir, 'registry.log');
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const cfg = join(dir, 'config.yml');
    await writeFile(cfg, configYaml(port, join(dir, 'data')));
    const log = await open(accessLog, 'a');
    const proc = supervise(bin('registry-v3'), ['serve', cfg], log.fd);
    await log.close();
    let gone = false;
    void proc.exited.then(() => {
      gone = true;
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !gone) {
      if (await pingV2(`http://127.0.0.1:${port}`) === 200) {
        return { label, host: `127.0.0.1:${port}`, accessLog, stop: () => proc.stop() };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await proc.stop();
  }
  throw new Error(`distribution v3 (${bin('registry-v3')}) did not answer /v2/`);
}
