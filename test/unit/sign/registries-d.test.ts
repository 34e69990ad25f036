// registries.d: file merging and the namespace search order (identity, repository, parents, host, wildcard domains,
// default-docker), with each setting taken from the first namespace that sets it.

import { describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPlaitError } from '../../../src/errors.js';
import {
  builtinLookaside, defaultRegistriesDir, loadRegistriesD, namespacesFor, parseRegistriesDFile, signatureStorageFor,
} from '../../../src/core/sign/registries-d.js';
import type { RegistriesD } from '../../../src/core/sign/registries-d.js';

const tmp = () => mkdtemp(join(tmpdir(), 'plait-regd-'));

function config(yaml: string): RegistriesD {
  const f = parseRegistriesDFile(yaml, 'x.yaml');
  return { dir: '/x', docker: f.docker, ...(f.defaultDocker && { defaultDocker: f.defaultDocker }) };
}

describe('namespacesFor', () => {
  it('lists identity, repository, parents, host, then wildcard domains without the port', () => {
    expect(namespacesFor('registry.example.com:5000/team/sub/app:v1')).toEqual([
      'registry.example.com:5000/team/sub/app:v1',
      'registry.example.com:5000/team/sub/app',
      'registry.example.com:5000/team/sub',
      'registry.example.com:5000/team',
      'registry.example.com:5000',
      '*.example.com',
      '*.com',
    ]);
  });

  it('expands the identity first (docker.io, :latest, digests)', () => {
    expect(namespacesFor('busybox')).toEqual(['docker.io/library/busybox:latest', 'docker.io/library/busybox', 'docker.io/library', 'docker.io', '*.io']);
    const d = `sha256:${'1'.repeat(64)}`;
    expect(namespacesFor(`localhost:5000/a@${d}`)).toEqual([`localhost:5000/a@${d}`, 'localhost:5000/a', 'localhost:5000']);
  });
});

describe('signatureStorageFor', () => {
  const c = config(`
default-docker:
  lookaside: file:///default
  use-sigstore-attachments: false
docker:
  registry.example.com:
    lookaside: https://sigs.example.com
    lookaside-staging: file:///staging/host
    use-sigstore-attachments: true
  registry.example.com/team:
    lookaside: https://team.example.com
  registry.example.com/team/app:v1:
    use-sigstore-attachments: false
  registry.example.com/old:
    sigstore: https://old.example.com
    sigstore-staging: file:///staging/old
  "*.example.org":
    lookaside: file:///wild
    use-sigstore-attachments: true
  registry.example.net/x:
`);

  it('takes each setting from the most precise namespace that sets it', () => {
    expect(signatureStorageFor(c, 'registry.example.com/team/app:v1')).toEqual({
      lookaside: 'https://team.example.com',
      // team sets only lookaside, which also serves for writing there: the host's staging is never reached.
      lookasideStaging: 'https://team.example.com',
      useSigstoreAttachments: false,
    });
    expect(signatureStorageFor(c, 'registry.example.com/team/app:v2')).toEqual({
      lookaside: 'https://team.example.com', lookasideStaging: 'https://team.example.com', useSigstoreAttachments: true,
    });
    expect(signatureStorageFor(c, 'registry.example.com/other:v1')).toEqual({
      lookaside: 'https://sigs.example.com', lookasideStaging: 'file:///staging/host', useSigstoreAttachments: true,
    });
  });

  it('accepts the older sigstore / sigstore-staging keys', () => {
    expect(signatureStorageFor(c, 'registry.example.com/old/app:1')).toEqual({
      lookaside: 'https://old.example.com', lookasideStaging: 'file:///staging/old', useSigstoreAttachments: true,
    });
  });

  it('matches wildcard domains, then default-docker', () => {
    expect(signatureStorageFor(c, 'a.b.example.org:443/app:1')).toEqual({ lookaside: 'file:///wild', lookasideStaging: 'file:///wild', useSigstoreAttachments: true });
    expect(signatureStorageFor(c, 'quay.io/app:1')).toEqual({ lookaside: 'file:///default', lookasideStaging: 'file:///default', useSigstoreAttachments: false });
    // An empty section sets nothing and does not stop the search.
    expect(signatureStorageFor(c, 'registry.example.net/x:1').lookaside).toBe('file:///default');
  });

  it('writes to lookaside-staging, then sigstore-staging, then lookaside, then sigstore within one section', () => {
    const order = config(`
docker:
  reg.local/a: {lookaside-staging: file:///1, sigstore-staging: file:///2, lookaside: file:///3, sigstore: file:///4}
  reg.local/b: {sigstore-staging: file:///2, lookaside: file:///3, sigstore: file:///4}
  reg.local/c: {lookaside: file:///3, sigstore: file:///4}
  reg.local/d: {sigstore: file:///4}
`);
    expect(['a', 'b', 'c', 'd'].map((r) => signatureStorageFor(order, `reg.local/${r}:1`).lookasideStaging)).toEqual(['file:///1', 'file:///2', 'file:///3', 'file:///4']);
    expect(['a', 'b', 'c', 'd'].map((r) => signatureStorageFor(order, `reg.local/${r}:1`).lookaside)).toEqual(['file:///3', 'file:///3', 'file:///3', 'file:///4']);
    expect(signatureStorageFor(order, 'other/x:1')).toEqual({ useSigstoreAttachments: false });
  });

  it('refuses wrongly typed values', () => {
    expect(() => parseRegistriesDFile('docker:\n  h:\n    use-sigstore-attachments: "yes"\n', 'f.yaml')).toThrow(/f.yaml: docker.h.use-sigstore-attachments must be true or false/);
    expect(() => parseRegistriesDFile('docker: [1]\n', 'f.yaml')).toThrow(/docker must be a mapping/);
    expect(() => parseRegistriesDFile('docker: {h: {lookaside: 3}}\n', 'f.yaml')).toThrow(/lookaside must be a string/);
  });
});

describe('loadRegistriesD', () => {
  it('merges *.yaml files, ignores others, refuses a namespace defined twice', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'a.yaml'), 'docker:\n  h.example/a:\n    lookaside: file:///a\n');
    await writeFile(join(dir, 'b.yaml'), 'default-docker:\n  lookaside: file:///d\n');
    await writeFile(join(dir, 'c.yml'), 'docker:\n  h.example/a:\n    lookaside: file:///ignored\n');
    const c = await loadRegistriesD(dir);
    expect(signatureStorageFor(c, 'h.example/a:1').lookaside).toBe('file:///a');
    expect(signatureStorageFor(c, 'h.example/b:1').lookaside).toBe('file:///d');

    await writeFile(join(dir, 'd.yaml'), 'docker:\n  h.example/a:\n    use-sigstore-attachments: true\n');
    const e = await loadRegistriesD(dir).catch((err: unknown) => err);
    expect(isPlaitError(e, 'E_INVALID')).toBe(true);
    expect((e as Error).message).toContain('"docker" namespace "h.example/a" is also defined in');
  });

  it('a missing directory configures nothing', async () => {
    const c = await loadRegistriesD(join(await tmp(), 'nope'));
    expect(signatureStorageFor(c, 'h/a:1')).toEqual({ useSigstoreAttachments: false });
  });

  it('uses $HOME/.config/containers/registries.d when it exists, else /etc', async () => {
    const home = await tmp();
    expect(await defaultRegistriesDir(home)).toBe('/etc/containers/registries.d');
    await mkdir(join(home, '.config', 'containers', 'registries.d'), { recursive: true });
    expect(await defaultRegistriesDir(home)).toBe(join(home, '.config', 'containers', 'registries.d'));
  });

  it('has the containers/image built-in lookaside for root and for users', () => {
    expect(builtinLookaside(0, '/root')).toBe('file:///var/lib/containers/sigstore');
    expect(builtinLookaside(1000, '/home/u')).toBe('file:///home/u/.local/share/containers/sigstore');
  });
});
