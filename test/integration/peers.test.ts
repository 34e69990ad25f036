import { describe, it, expect, inject } from 'vitest';
import { createHash } from 'node:crypto';
import { run } from '../lab/proc.js';

// The peer-made fixtures exist on the plain registry with the shapes later tests rely on, and the digests recorded
// in setup are what the registry serves now.

const peers = inject('peers');

async function raw(ref: string): Promise<{ digest: string; json: { mediaType?: string; manifests?: Array<{ platform?: { architecture: string; os: string } }> } }> {
  const out = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return { digest: `sha256:${createHash('sha256').update(out).digest('hex')}`, json: JSON.parse(out) as never };
}

describe('peer-made fixtures', () => {
  it('buildah pushed an OCI index of every lab platform', async () => {
    const { digest, json } = await raw(peers.buildahList.ref);
    expect(digest).toBe(peers.buildahList.digest);
    expect(json.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(json.manifests).toHaveLength(peers.singles.length);
    expect(json.manifests!.map((m) => `${m.platform!.os}/${m.platform!.architecture}`)).toContain('windows/amd64');
  });

  it('buildah --format v2s2 pushed a Docker manifest list', async () => {
    const { digest, json } = await raw(peers.buildahListV2s2.ref);
    expect(digest).toBe(peers.buildahListV2s2.digest);
    expect(json.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(json.manifests).toHaveLength(peers.singles.length);
  });

  it('skopeo copy --all pushed a 4-platform OCI index', async () => {
    const { digest, json } = await raw(peers.skopeoIndex.ref);
    expect(digest).toBe(peers.skopeoIndex.digest);
    expect(json.manifests).toHaveLength(4);
  });

  it('single images keep the digests the generator made', async () => {
    for (const s of [...peers.singles, ...peers.perRepo]) {
      expect((await raw(s.ref)).digest).toBe(s.digest);
    }
  });
});
