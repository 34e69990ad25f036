import { describe, it, expect } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistriesConf, pullSourcesFor } from '../../../src/transports/registry/registries-conf.js';

// Which places a source is read from, in order, for each mirror key (containers/image's PullSourcesFromReference).

async function conf(text: string) {
  const dir = await mkdtemp(join(tmpdir(), 'plait-pullsrc-'));
  const file = join(dir, 'registries.conf');
  await writeFile(file, text);
  return loadRegistriesConf({ CONTAINERS_REGISTRIES_CONF: file, HOME: dir });
}

const D = `sha256:${'a'.repeat(64)}`;

describe('pullSourcesFor', () => {
  it('mirrors in order, then the primary location, each with its own insecure; the prefix rewritten to each location', async () => {
    const c = await conf([
      '[[registry]]', 'prefix = "example.com/team"', 'location = "primary.example.com/t"',
      '[[registry.mirror]]', 'location = "m1.example.com/cache"', 'insecure = true',
      '[[registry.mirror]]', 'location = "m2.example.com"', ''].join('\n'));
    expect(pullSourcesFor(c, 'example.com/team/app:1')).toEqual([
      { ref: 'm1.example.com/cache/app:1', insecure: true, mirror: true },
      { ref: 'm2.example.com/app:1', insecure: false, mirror: true },
      { ref: 'primary.example.com/t/app:1', insecure: false, mirror: false },
    ]);
    expect(pullSourcesFor(c, 'other.example.com/app:1')).toEqual([{ ref: 'other.example.com/app:1', insecure: false, mirror: false }]);
  });

  it('mirror-by-digest-only, and pull-from-mirror digest-only / tag-only per mirror', async () => {
    const byDigest = await conf(['[[registry]]', 'location = "r.example.com"', 'mirror-by-digest-only = true', '[[registry.mirror]]', 'location = "m.example.com"', ''].join('\n'));
    expect(pullSourcesFor(byDigest, 'r.example.com/app:1').map((s) => s.ref)).toEqual(['r.example.com/app:1']);
    expect(pullSourcesFor(byDigest, `r.example.com/app@${D}`).map((s) => s.ref)).toEqual([`m.example.com/app@${D}`, `r.example.com/app@${D}`]);
    const per = await conf(['[[registry]]', 'location = "r.example.com"',
      '[[registry.mirror]]', 'location = "d.example.com"', 'pull-from-mirror = "digest-only"',
      '[[registry.mirror]]', 'location = "t.example.com"', 'pull-from-mirror = "tag-only"',
      '[[registry.mirror]]', 'location = "a.example.com"', ''].join('\n'));
    expect(pullSourcesFor(per, 'r.example.com/app:1').map((s) => s.ref)).toEqual(['t.example.com/app:1', 'a.example.com/app:1', 'r.example.com/app:1']);
    expect(pullSourcesFor(per, `r.example.com/app@${D}`).map((s) => s.ref)).toEqual([`d.example.com/app@${D}`, `a.example.com/app@${D}`, `r.example.com/app@${D}`]);
  });

  it('a wildcard prefix: a mirror takes the matched host\'s place; a blocked registry is refused before anything', async () => {
    const c = await conf(['[[registry]]', 'prefix = "*.example.com"', '[[registry.mirror]]', 'location = "m.example.org/cache"', ''].join('\n'));
    expect(pullSourcesFor(c, 'a.example.com/x/app:1').map((s) => s.ref)).toEqual(['m.example.org/cache/x/app:1', 'a.example.com/x/app:1']);
    const blocked = await conf(['[[registry]]', 'location = "r.example.com"', 'blocked = true', '[[registry.mirror]]', 'location = "m.example.com"', ''].join('\n'));
    expect(() => pullSourcesFor(blocked, 'r.example.com/app:1')).toThrow(/is blocked/);
  });
});
