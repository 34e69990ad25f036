import { isAbsolute, join } from 'node:path';
import { parsePlatform, normalisePlatform } from '../oci/platform.js';
import type { Platform } from '../oci/types.js';
import type { TransportOptions } from '../transports/index.js';
import { registriesConf, resolveShortName } from '../transports/registry/registries-conf.js';
import type { ValidSpec } from './spec/index.js';
import type { PlatformSpec, KeySource, PassphraseSource } from './spec/types.js';
import type { KeyRef, ReconcileSpec } from './model.js';

// A validated document (defaults applied) in the reconciler's terms: platforms parsed and normalised, key files
// resolved against the spec's directory, passphrase sources kept as references (read only when signing).

function platform(p: PlatformSpec): Platform {
  if (typeof p === 'string') return normalisePlatform(parsePlatform(p));
  return normalisePlatform({
    os: p.os, architecture: p.architecture,
    ...(p.variant && { variant: p.variant }),
    ...(p.osVersion && { 'os.version': p.osVersion }),
    ...(p.osFeatures?.length && { 'os.features': p.osFeatures }),
    ...(p.features?.length && { features: p.features }),
  });
}

function fileRef(baseDir: string, k: KeySource | PassphraseSource | undefined): KeyRef | undefined {
  if (!k) return undefined;
  if ('file' in k && k.file !== undefined) return { file: isAbsolute(k.file) ? k.file : join(baseDir, k.file) };
  if ('env' in k && k.env !== undefined) return { env: k.env };
  return undefined;
}

/** A docker reference of a spec: a short name only through a registries.conf alias, never a search. */
function specReference(image: string): string {
  const bare = image.startsWith('docker://') ? image.slice('docker://'.length) : image;
  const resolved = resolveShortName(registriesConf(), bare, true);
  return resolved === bare ? image : resolved;
}

/** `oci:DIR…` with a relative DIR is taken relative to the spec's directory, like key files. */
function imageRef(baseDir: string, image: string): string {
  if (!image.startsWith('oci:')) return specReference(image);
  const rest = image.slice(4);
  return isAbsolute(rest) ? image : `oci:${join(baseDir, rest)}`;
}

/** A lookaside that is a plain relative path is relative to the spec, like key files; URLs are left alone. */
function lookasidePath(baseDir: string, l: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(l) || isAbsolute(l) ? l : join(baseDir, l);
}

export function toReconcileSpec(v: ValidSpec, transport: TransportOptions): ReconcileSpec {
  const s = v.doc.spec;
  const sig = s.signatures;
  return {
    name: v.name,
    origin: `${v.file}${v.index > 0 ? `#${v.index}` : ''}`,
    destination: { image: imageRef(v.baseDir, s.destination.image), tags: [...s.destination.tags] },
    format: s.format,
    ...(s.format === 'docker' && s.convertInstances === false && { keepInstances: true as const }),
    ...(s.listIndent !== undefined && s.listIndent > 0 && { listIndent: s.listIndent }),
    sources: s.sources.map((src) => ({
      image: imageRef(v.baseDir, src.image),
      ...(src.platform !== undefined && { platform: platform(src.platform) }),
      ...(src.platforms !== undefined && { platforms: src.platforms.map(platform) }),
      ...(src.annotations && { annotations: { ...src.annotations } }),
    })),
    ...(s.platforms && { platforms: s.platforms.map(platform) }),
    onConflict: s.onConflict,
    prune: s.prune,
    ...(s.annotations && { annotations: { ...s.annotations } }),
    ...(s.compression && { compression: { variants: [...(s.compression.variants ?? [])], force: s.compression.force, ...(s.compression.level !== undefined && { level: s.compression.level }) } }),
    ...(sig && {
      signatures: {
        removeSource: sig.removeSource,
        ...(sig.identity && { identity: sig.identity }),
        sigstore: (sig.sigstore ?? []).map((x) => ({ privateKey: fileRef(v.baseDir, x.privateKey) ?? {}, ...(x.passphrase && { passphrase: fileRef(v.baseDir, x.passphrase) }) })),
        gpg: (sig.gpg ?? []).map((x) => ({ key: fileRef(v.baseDir, x.key) ?? {}, ...(x.passphrase && { passphrase: fileRef(v.baseDir, x.passphrase) }), ...(x.lookaside && { lookaside: lookasidePath(v.baseDir, x.lookaside) }) })),
      },
    }),
    ...(s.referrers?.copy && { referrers: { ...(s.referrers.artifactTypes && { artifactTypes: [...s.referrers.artifactTypes] }) } }),
    historyLimit: s.historyLimit,
    controller: {
      interval: s.interval,
      timeout: s.timeout,
      retryInterval: s.retryInterval ?? s.interval,
      suspend: s.suspend,
      deletionPolicy: s.deletionPolicy,
      ...(s.secretRef && { secretRef: { name: s.secretRef.name } }),
      ...(s.certSecretRef && { certSecretRef: { name: s.certSecretRef.name } }),
      ...(s.caConfigMapRef && { caConfigMapRef: { name: s.caConfigMapRef.name, key: s.caConfigMapRef.key } }),
    },
    transport,
  };
}
