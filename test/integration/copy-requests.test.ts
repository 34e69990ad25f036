import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, closeAllClients } from '../../src/transports/index.js';
import { copyImage } from '../../src/core/copy/copy.js';
import { entriesSince, logMark } from '../lab/access-log.js';
import { runPlait } from '../helpers/cli.js';

// Round trips of a cold copy out of a registry: an image config is read for the instance's platform when the list is
// assembled and again by the copy; one run reads each config blob once.

const lab = inject('lab');
const peers = inject('peers');
const R = lab.plain.host;
const plain = { plainHttp: true };

afterAll(() => closeAllClients());

describe('cold copy round trips', () => {
  it('a cold apply from a registry into a layout GETs each blob once (configs included)', async () => {
    const repo = `copy-requests-${Date.now().toString(36)}`;
    const [amd64, arm64] = [peers.singles[0]!, peers.singles[1]!];
    await copyImage(openImage(`docker://${amd64.ref}`, plain), openImage(`docker://${R}/${repo}/src:amd64`, plain));
    await copyImage(openImage(`docker://${arm64.ref}`, plain), openImage(`docker://${R}/${repo}/src:arm64`, plain));
    const dir = await mkdtemp(join(tmpdir(), 'plait-copyreq-'));
    const spec = join(dir, 'spec.yaml');
    await writeFile(spec, `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata: {name: ${repo}}
spec:
  destination: {image: "oci:${join(dir, 'out')}", tags: [v1]}
  sources:
    - image: ${R}/${repo}/src:amd64
    - image: ${R}/${repo}/src:arm64
`);
    const mark = await logMark(lab.plain.accessLog);
    const r = await runPlait(['apply', '--plain-http', spec], { env: { PLAIT_STORE: join(dir, 'store') } });
    expect(r.code, r.stderr).toBe(0);
    const gets = (await entriesSince(lab.plain.accessLog, mark))
      .filter((e) => e.method === 'GET' && e.path.startsWith(`/v2/${repo}/src/blobs/`))
      .map((e) => e.path.split('/blobs/')[1]!);
    // Two images of two layers each: two configs and four layers, every one read exactly once.
    expect(new Set(gets).size).toBe(6);
    expect(gets).toHaveLength(6);
  });
});
