import { PlaitError, ErrorCodes } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { chooseInstance } from '../../oci/platform-match.js';
import { formatPlatform } from '../../oci/platform.js';
import { openImage, closeAllClients } from '../../transports/index.js';
import type { ImageSource } from '../../transports/index.js';
import { platformChoice } from '../../transports/host.js';
import { parseServedManifest, readServedConfig } from '../../transports/documents.js';
import { parseFlags, REGISTRY_FLAGS, transportOptions, str } from '../flags.js';
import type { Parsed } from '../flags.js';
import type { Command } from '../run.js';
import { withJsonErrors } from '../output.js';

export const inspect: Command = {
  name: 'inspect',
  summary: 'print an image or a list from docker:// (the default) or oci:DIR[:REF]',
  usage: 'plait inspect [flags] IMAGE',
  run: (args) => withJsonErrors(args, () => runInspect(args)),
};

async function runInspect(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('inspect', args, {
    ...REGISTRY_FLAGS,
    raw: { type: 'boolean', help: 'print the manifest bytes exactly as stored (their sha256 is the digest)' },
    config: { type: 'boolean', help: "print the image's config (for a list: that of the instance chosen for the platform)" },
    'override-os': { type: 'string', arg: 'OS', help: "of a list, show this OS's instance (with --config: its config) instead of the list" },
    'override-arch': { type: 'string', arg: 'ARCH', help: "of a list, show this architecture's instance (with --config: its config)" },
    'override-variant': { type: 'string', arg: 'VARIANT', help: "of a list, show this variant's instance (with --config: its config)" },
    output: { type: 'string', short: 'o', help: 'output format: json (the only one; errors become a JSON object too)', arg: 'FORMAT' },
  });
  const format = str(values.output) ?? 'json';
  if (format !== 'json') throw new PlaitError(ErrorCodes.E_INVALID, `inspect: -o takes json, not ${JSON.stringify(format)}`);
  if (positionals.length !== 1) throw new PlaitError(ErrorCodes.E_INVALID, 'inspect: exactly one IMAGE argument is needed');
  const img = openImage(positionals[0]!, transportOptions(values));
  try {
    return await show(img, values);
  } finally {
    await closeAllClients();
  }
}

async function show(img: ImageSource, values: Parsed['values']): Promise<number> {
  const top = await img.getManifest();
  if (values.raw && !values.config) {
    process.stdout.write(top.bytes);
    return 0;
  }
  const parsed = parseServedManifest(img, top);
  const overridden = ['override-os', 'override-arch', 'override-variant'].some((k) => str(values[k]) !== undefined);
  if (!values.config && overridden && parsed.kind === 'index') {
    // As skopeo inspect does: an override picks the platform's instance of a list, and that image is shown.
    const { choice, opts } = platformChoice({ os: str(values['override-os']), arch: str(values['override-arch']), variant: str(values['override-variant']) });
    const chosen = chooseInstance(parsed.mediaType, parsed.index, choice, opts);
    const child = await img.getManifest(chosen.digest);
    if (child.digest !== chosen.digest) throw new PlaitError(ErrorCodes.E_DIGEST_MISMATCH, `${img.name}: instance ${chosen.digest} read as ${child.digest}`);
    if (values.raw) {
      process.stdout.write(child.bytes);
      return 0;
    }
    return showImage(img, child.bytes, child.mediaType, child.digest);
  }
  if (values.config) {
    let manifest = parsed;
    if (parsed.kind === 'index') {
      const { choice, opts } = platformChoice({ os: str(values['override-os']), arch: str(values['override-arch']), variant: str(values['override-variant']) });
      const chosen = chooseInstance(parsed.mediaType, parsed.index, choice, opts);
      const child = await img.getManifest(chosen.digest);
      manifest = parseServedManifest(img, child);
    }
    if (manifest.kind !== 'image') throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${img.name}: a nested list has no config`);
    const { bytes: config } = await readServedConfig(img, manifest.manifest.config.digest, manifest.manifest.config.size);
    process.stdout.write(values.raw ? config : JSON.stringify(JSON.parse(config.toString()), null, 4) + '\n');
    return 0;
  }
  if (parsed.kind === 'index') {
    const out = {
      Name: img.name,
      Digest: top.digest,
      MediaType: parsed.mediaType,
      Manifests: (parsed.index.manifests ?? []).map((m) => ({
        Digest: m.digest,
        MediaType: m.mediaType,
        Size: m.size,
        Platform: m.platform ? formatPlatform(m.platform, { osVersion: true }) : '',
        ...(m.annotations && { Annotations: m.annotations }),
      })),
      ...(parsed.index.annotations && { Annotations: parsed.index.annotations }),
    };
    process.stdout.write(JSON.stringify(out, null, 4) + '\n');
    return 0;
  }
  return showImage(img, top.bytes, top.mediaType, top.digest);
}

async function showImage(img: ImageSource, bytes: Buffer, mediaType: string, digest: Digest): Promise<number> {
  const parsed = parseServedManifest(img, { bytes, mediaType, digest });
  if (parsed.kind !== 'image') throw new PlaitError(ErrorCodes.E_UNSUPPORTED, `${img.name}: a nested list is not shown`);
  const m = parsed.manifest;
  const { config } = await readServedConfig(img, m.config.digest, m.config.size);
  const out = {
    Name: img.name,
    Digest: digest,
    MediaType: parsed.mediaType,
    Created: config.created,
    Architecture: config.architecture,
    Os: config.os,
    ...(config.variant && { Variant: config.variant }),
    ...(config['os.version'] && { OsVersion: config['os.version'] }),
    Labels: config.config?.Labels ?? null,
    Layers: m.layers.map((l) => l.digest),
    LayersData: m.layers.map((l) => ({ MIMEType: l.mediaType, Digest: l.digest, Size: l.size, Annotations: l.annotations ?? null })),
    Env: config.config?.Env ?? null,
  };
  process.stdout.write(JSON.stringify(out, null, 4) + '\n');
  return 0;
}

