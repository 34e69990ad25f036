// What a layout or a registry serves, made at test time from the small declarative cases under
// test/fixtures/hostile/{layouts,registry}/: one valid base image and list, then the case's lies on top. Nothing big
// is committed; symlinks, FIFOs and directories in place of blobs are made here.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import type { PlaitRun } from '../../helpers/cli.js';
import { snapshot } from './helpers.js';
import type { Sandbox } from './helpers.js';
import { readdir, readFile } from 'node:fs/promises';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Blob { bytes: Buffer; digest: string; size: number }

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blobOf = (bytes: Buffer): Blob => ({ bytes, digest: sha256(bytes), size: bytes.length });

/** The base content every case starts from: `manifest` (amd64) and `manifest-arm64`, and `list` holding both. */
export function baseBlobs(salt = ''): Map<string, Blob> {
  const blobs = new Map<string, Blob>();
  const add = (name: string, v: unknown) => {
    const b = blobOf(Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v)));
    blobs.set(name, b);
    return b;
  };
  // Salted per case: the store keeps what a digest names once read, so cases must not share digests.
  const layer = add('layer', gzipSync(Buffer.concat([Buffer.from(salt), Buffer.alloc(2048)])));
  for (const arch of ['amd64', 'arm64']) {
    const config = add(`config${arch === 'amd64' ? '' : '-arm64'}`, { architecture: arch, os: 'linux', author: salt, rootfs: { type: 'layers', diff_ids: [] } });
    add(`manifest${arch === 'amd64' ? '' : '-arm64'}`, {
      schemaVersion: 2, mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: OCI_LAYER_GZIP, digest: layer.digest, size: layer.size }],
    });
  }
  const m = blobs.get('manifest')!;
  const a = blobs.get('manifest-arm64')!;
  add('list', {
    schemaVersion: 2, mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: m.digest, size: m.size, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: OCI_MANIFEST, digest: a.digest, size: a.size, platform: { architecture: 'arm64', os: 'linux' } },
    ],
  });
  return blobs;
}

/** "$name" → that blob's digest, "$name.size" → its size, anywhere in a JSON value. */
export function substitute(v: unknown, blobs: Map<string, Blob>): unknown {
  if (typeof v === 'string' && v.startsWith('$')) {
    const [name, field] = v.slice(1).split('.');
    const b = blobs.get(name!);
    if (b) return field === 'size' ? b.size : field === 'hex' ? b.digest.slice(7) : b.digest;
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, blobs));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, blobs)]));
  return v;
}

/** A new blob from a case: JSON (padded with trailing spaces — still valid JSON — to `padTo` bytes), text, or a list. */
export interface BlobSpec {
  json?: unknown;
  text?: string;
  padTo?: number;
  /** An OCI index of `count` entries, each naming `entry` with its own platform. */
  listOf?: { count: number; entry: string };
}

export function makeBlob(spec: BlobSpec, blobs: Map<string, Blob>): Buffer {
  let text: string;
  if (spec.listOf) {
    const e = blobs.get(spec.listOf.entry)!;
    text = JSON.stringify({
      schemaVersion: 2, mediaType: OCI_INDEX,
      manifests: Array.from({ length: spec.listOf.count }, (_, i) => ({
        mediaType: OCI_MANIFEST, digest: e.digest, size: e.size, platform: { architecture: 'amd64', os: 'linux', 'os.version': `1.${i}` },
      })),
    });
  } else if (spec.text !== undefined) {
    text = spec.text;
  } else {
    text = JSON.stringify(substitute(spec.json, blobs));
  }
  if (spec.padTo !== undefined && text.length < spec.padTo) text += ' '.repeat(spec.padTo - text.length);
  return Buffer.from(text, 'utf8');
}

// ---- layouts ---------------------------------------------------------------------------------------------------

/** One change to the base layout, applied in order. */
export type LayoutStep =
  | ({ blob: string } & BlobSpec)
  | { tag: string; to: string; mediaType?: string; size?: number }
  | { index: unknown }
  | { indexText: string; padTo?: number }
  | { indexEntries: number; of: string }
  | { ociLayout: string | null }
  | { overwrite: string; text?: string; sameSize?: boolean }
  | { remove: string }
  | { directory: string }
  | { symlink: string; to: 'outside' | 'outside-wrong' | 'dev-zero' | 'inside-other' }
  | { fifo: string }
  | { blobsDirOutside: true };

export interface LayoutCase {
  name: string;
  /** The ref read (`oci:DIR:REF`); default "app". */
  ref?: string;
  steps: LayoutStep[];
  /** What the one line must say besides naming the source. */
  says: string;
  note?: string;
  /** "works": inspect shows the top document fine (the lie is below it); apply must still refuse. */
  inspect?: 'works';
  /**
   * "copy": the lie shows only while a blob streams (its bytes hash wrong), so blobs before it may have landed —
   * each whole and verified, with no manifest or tag naming them; everything else stays untouched.
   */
  stage?: 'copy';
  /** A valid, if large, input that must simply work. */
  works?: boolean;
}

/** Build the base layout at `dir` (tags app → manifest, list → list) and apply the case's steps. */
export async function buildLayout(dir: string, steps: LayoutStep[], outside: string, salt: string): Promise<Map<string, Blob>> {
  const blobs = baseBlobs(salt);
  const path = (name: string) => join(dir, 'blobs', 'sha256', blobs.get(name)!.digest.slice(7));
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await mkdir(outside, { recursive: true });
  for (const b of blobs.values()) await writeFile(join(dir, 'blobs', 'sha256', b.digest.slice(7)), b.bytes);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const entry = (name: string, ref: string, mediaType?: string, size?: number) => {
    const b = blobs.get(name)!;
    let mt = mediaType;
    if (mt === undefined) {
      try {
        mt = (JSON.parse(b.bytes.toString()) as { mediaType?: string }).mediaType ?? OCI_MANIFEST;
      } catch {
        mt = OCI_MANIFEST;
      }
    }
    return { mediaType: mt, digest: b.digest, size: size ?? b.size, annotations: { [REF_NAME]: ref } };
  };
  let index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry('manifest', 'app'), entry('list', 'list')] };
  let indexText: string | undefined;
  for (const s of steps) {
    if ('blob' in s) {
      const bytes = makeBlob(s, blobs);
      blobs.set(s.blob, blobOf(bytes));
      await writeFile(path(s.blob), bytes);
    } else if ('tag' in s) {
      index.manifests = index.manifests.filter((m) => m.annotations[REF_NAME] !== s.tag);
      index.manifests.push(entry(s.to, s.tag, s.mediaType, s.size));
    } else if ('index' in s) {
      index = substitute(s.index, blobs) as typeof index;
    } else if ('indexText' in s) {
      indexText = s.padTo !== undefined ? s.indexText + ' '.repeat(Math.max(0, s.padTo - s.indexText.length)) : s.indexText;
    } else if ('indexEntries' in s) {
      index.manifests = Array.from({ length: s.indexEntries }, (_, i) => entry(s.of, `app-${i}`)).concat([entry(s.of, 'app')]);
    } else if ('ociLayout' in s) {
      if (s.ociLayout === null) await rm(join(dir, 'oci-layout'));
      else await writeFile(join(dir, 'oci-layout'), s.ociLayout);
    } else if ('overwrite' in s) {
      await writeFile(path(s.overwrite), s.sameSize ? Buffer.alloc(blobs.get(s.overwrite)!.size, 'x') : s.text ?? '');
    } else if ('remove' in s) {
      await rm(path(s.remove));
    } else if ('directory' in s) {
      await rm(path(s.directory));
      await mkdir(join(path(s.directory), 'inside'), { recursive: true });
    } else if ('symlink' in s) {
      const b = blobs.get(s.symlink)!;
      await rm(path(s.symlink));
      let target: string;
      if (s.to === 'dev-zero') target = '/dev/zero';
      else if (s.to === 'inside-other') target = blobs.get(s.symlink === 'config' ? 'config-arm64' : 'config')!.digest.slice(7);
      else {
        target = join(outside, b.digest.slice(7));
        // The right bytes (or, for outside-wrong, others) — outside the layout all the same.
        await writeFile(target, s.to === 'outside' ? b.bytes : Buffer.from('secret outside the layout\n'));
      }
      await symlink(target, path(s.symlink));
    } else if ('fifo' in s) {
      await rm(path(s.fifo));
      execFileSync('mkfifo', [path(s.fifo)]);
    } else if ('blobsDirOutside' in s) {
      const away = join(outside, 'sha256');
      await rm(away, { recursive: true, force: true });
      await rename(join(dir, 'blobs', 'sha256'), away);
      await symlink(away, join(dir, 'blobs', 'sha256'));
    }
  }
  await writeFile(join(dir, 'index.json'), indexText ?? JSON.stringify(index));
  return blobs;
}

// ---- what apply prints -----------------------------------------------------------------------------------------

/**
 * apply reports per spec: besides its progress lines (`NAME: copy …`) and the closing count (`1 spec: 1 failed`), stderr
 * must hold exactly one error line, `NAME: failed: …`, matching `line`; exit 1; no stack trace.
 */
export function expectOneFailure(r: PlaitRun, name: string, line?: RegExp): string {
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  const progress = new RegExp(`^${name}: (copy|push list|recompress|sign) |^\\d+ specs?: `);
  const errors = lines.filter((l) => !progress.test(l));
  const err = errors.join('\n');
  expect({ code: r.code, errors: errors.length, stack: /\n\s+at |^\s+at /m.test(r.stderr) }, r.stderr).toEqual({ code: 1, errors: 1, stack: false });
  expect(err, r.stderr).toMatch(new RegExp(`^${name}: failed: `));
  expect(err.length, 'one line, not a dump').toBeLessThan(700);
  if (line) expect(err).toMatch(line);
  return err;
}

/**
 * For failures found mid-stream: the sandbox is unchanged except for the destination layout and the store's caches of
 * verified documents (facts/, locks/); the destination holds no manifest and no tag (index.json lists nothing), and
 * every blob in it is whole (its bytes hash to its name): no partial file, no temp file.
 */
export async function expectNoImageWritten(sb: Sandbox, dest: string, fn: () => Promise<void>): Promise<void> {
  const keep = (s: string) => s.split('\n').filter((l) => !/^\/(out|store\/facts|store\/locks)\//.test(l)).join('\n');
  const before = keep(await snapshot(sb.dir));
  await fn();
  expect(keep(await snapshot(sb.dir))).toBe(before);
  const index = await readFile(join(dest, 'index.json'), 'utf8').catch(() => '{"manifests":[]}');
  expect((JSON.parse(index) as { manifests: unknown[] }).manifests).toEqual([]);
  const names = await readdir(join(dest, 'blobs', 'sha256')).catch(() => [] as string[]);
  for (const n of names) expect(sha256(await readFile(join(dest, 'blobs', 'sha256', n)))).toBe(`sha256:${n}`);
}
