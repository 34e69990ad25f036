import { writeFile } from 'node:fs/promises';
import type { Signer } from '../../core/sign/index.js';
import { PlaitError, ErrorCodes, isPlaitError } from '../../errors.js';
import { digestOf } from '../../oci/digest.js';
import { openImage, claimRegistries, closeAllClients } from '../../transports/index.js';
import { Store, resolveStoreRoot } from '../../core/store/index.js';
import { List, MANIFEST_ITEM } from '../../core/list/list.js';
import { createList, addToList, annotateList, removeFromList } from '../../core/list/ops.js';
import type { InstanceOverrides } from '../../core/list/ops.js';
import { push } from '../../core/list/push.js';
import { HELP_FLAG, HelpRequest, parseFlags, REGISTRY_FLAGS, SIDE_REGISTRY_FLAGS, transportOptions, str } from '../flags.js';
import type { FlagSpec, Parsed } from '../flags.js';
import type { HelpTopic } from '../help.js';
import type { Command } from '../run.js';
import { stoppable } from '../interrupts.js';
import { readHistory } from '../../reconcile/history.js';

/** Whether an inspect target names a registry or layout explicitly (else it can only be a local list). */
function namesRegistry(target: string): boolean {
  if (target.startsWith('docker://') || target.startsWith('oci:')) return true;
  const first = target.split('/')[0]!;
  return target.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
}

// `plait manifest …`: podman/buildah `manifest` on plait's own store, with their argument order and flag names.

const OVERVIEW = `Commands and flags follow podman/buildah's. LIST is a list's name or ID in the local store; IMAGE is
docker://… (the default) or oci:DIR[:REF].`;

const SUBCOMMANDS: Record<string, HelpTopic> = {
  create: { usage: 'plait manifest create [flags] LIST [IMAGE…]', summary: 'create a list in the store, with the given images in it' },
  add: { usage: 'plait manifest add [flags] LIST IMAGE', summary: 'add an image (or, with --all, every image of a list) to a list' },
  annotate: { usage: 'plait manifest annotate [flags] LIST DIGEST|IMAGE  (or LIST --index)', summary: "set an instance's platform fields and annotations, or the list's own annotations" },
  remove: { usage: 'plait manifest remove [flags] LIST DIGEST', summary: 'remove an instance from a list' },
  inspect: { usage: 'plait manifest inspect [flags] LIST|IMAGE', summary: 'print a list from the store, or a list or image from a registry or layout' },
  push: { usage: 'plait manifest push [flags] LIST [DEST]', summary: 'push a list (and, by default, its images) to DEST (default: LIST as a reference)' },
  rm: { usage: 'plait manifest rm [flags] LIST…', summary: 'delete lists from the store (one with push history from apply only with --force)' },
  exists: { usage: 'plait manifest exists [flags] LIST', summary: 'exit 0 if the list is in the store, 1 if not' },
  ls: { usage: 'plait manifest ls [flags]', summary: 'list the lists in the store' },
};

/**
 * podman's rule: a --compression-format given on the command line forces that compression unless
 * --force-compression=false says otherwise. plait has no "compress only what is uploaded" mode (what podman does
 * then), so that combination is refused rather than silently pushing the old compression.
 */
function forceCompression(force: unknown, format: string | undefined): boolean {
  if (force === false && format !== undefined) {
    throw new PlaitError(ErrorCodes.E_UNSUPPORTED, 'manifest push: --compression-format with --force-compression=false is not supported (plait always rewrites every instance in --compression-format)');
  }
  return force === true || format !== undefined;
}

const STORE_FLAG: FlagSpec = { store: { type: 'string', arg: 'DIR', help: 'the local store (default: $PLAIT_STORE, $XDG_DATA_HOME/plait, ~/.local/share/plait)' } };
const ANNOTATION: FlagSpec = { annotation: { type: 'string', multiple: true, arg: 'KEY=VALUE', help: 'set an annotation' } };
const ALL: FlagSpec = { all: { type: 'boolean', help: "if IMAGE is a list, add all of its images (default: the one for this machine's platform)" } };
const INSTANCE_FLAGS: FlagSpec = {
  ...ANNOTATION,
  arch: { type: 'string', arg: 'ARCH', help: "set the instance's architecture" },
  os: { type: 'string', arg: 'OS', help: "set the instance's operating system" },
  variant: { type: 'string', arg: 'VARIANT', help: "set the instance's architecture variant (v7, v8…)" },
  'os-version': { type: 'string', arg: 'VERSION', help: "set the instance's OS version (Windows)" },
  'os-features': { type: 'string', multiple: true, arg: 'F[,F…]', help: "set the instance's OS features" },
  features: { type: 'string', multiple: true, arg: 'F[,F…]', help: "set the instance's platform features" },
};

async function openStore(values: Parsed['values']): Promise<Store> {
  return Store.open(resolveStoreRoot({ store: str(values.store) }));
}

const list = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.flatMap((x: string) => x.split(',')).filter(Boolean) : undefined);

function overrides(values: Parsed['values']): InstanceOverrides {
  const o: InstanceOverrides = {};
  if (str(values.arch) !== undefined) o.arch = str(values.arch);
  if (str(values.os) !== undefined) o.os = str(values.os);
  if (str(values.variant) !== undefined) o.variant = str(values.variant);
  if (str(values['os-version']) !== undefined) o.osVersion = str(values['os-version']);
  if (list(values['os-features'])) o.osFeatures = list(values['os-features']);
  if (list(values.features)) o.features = list(values.features);
  if (Array.isArray(values.annotation)) o.annotations = values.annotation;
  for (const a of o.annotations ?? []) {
    if (!a.includes('=')) throw new PlaitError(ErrorCodes.E_INVALID, `--annotation ${JSON.stringify(a)}: expected KEY=VALUE`);
  }
  return o;
}

function need(args: string[], n: number, usage: string): void {
  if (args.length < n) throw new PlaitError(ErrorCodes.E_INVALID, `manifest ${usage}`);
}

/** podman's signing flags: one passphrase file for all keys (the first line is the passphrase). */
async function pushSigners(values: Parsed['values']): Promise<Signer[]> {
  const sigstore = (values['sign-by-sigstore-private-key'] as string[] | undefined) ?? [];
  const gpg = (values['sign-by-gpg-key'] as string[] | undefined) ?? [];
  if (sigstore.length === 0 && gpg.length === 0) return [];
  // openpgp and the key code load only when something is to be signed.
  const { sigstoreSigner, gpgSigner, readPassphraseFile } = await import('../../core/sign/index.js');
  const file = str(values['sign-passphrase-file']);
  const passphrase = file !== undefined ? await readPassphraseFile(file, '--sign-passphrase-file') : process.env.PLAIT_PASSPHRASE ?? '';
  const lookaside = str(values.lookaside);
  return [
    ...sigstore.map((keyFile) => sigstoreSigner({ keyFile, passphrase })),
    ...gpg.map((keyFile) => gpgSigner({ keyFile, passphrase, ...(lookaside !== undefined && { lookaside }) })),
  ];
}

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

const subcommands: Record<string, (args: string[]) => Promise<number>> = {
  async create(args) {
    const { values, positionals } = parseFlags('manifest create', args, { ...STORE_FLAG, ...REGISTRY_FLAGS, ...ALL, annotation: { ...ANNOTATION.annotation!, help: "set an annotation on the list itself" } });
    need(positionals, 1, 'create LIST [IMAGE…]: a list name is needed');
    const store = await openStore(values);
    const [name, ...images] = positionals as [string, ...string[]];
    const transport = transportOptions(values);
    claimRegistries(transport, { source: images });
    const { id } = await createList(store, name, values.annotation as string[] | undefined);
    for (const img of images) {
      await addToList(store, id, img, { all: values.all === true, transport });
    }
    out(id);
    return 0;
  },

  async add(args) {
    const { values, positionals } = parseFlags('manifest add', args, { ...STORE_FLAG, ...REGISTRY_FLAGS, ...INSTANCE_FLAGS, ...ALL });
    need(positionals, 2, 'add LIST IMAGE: a list and an image are needed');
    const store = await openStore(values);
    const { id } = await addToList(store, positionals[0]!, positionals[1]!, {
      all: values.all === true, transport: transportOptions(values), ...overrides(values),
    });
    out(id);
    return 0;
  },

  async annotate(args) {
    const { values, positionals } = parseFlags('manifest annotate', args, { ...STORE_FLAG, ...INSTANCE_FLAGS, index: { type: 'boolean', help: "annotate the list itself (only --annotation then)" } });
    const index = values.index === true;
    need(positionals, index ? 1 : 2, 'annotate LIST DIGEST (or LIST --index)');
    const store = await openStore(values);
    const o = overrides(values);
    if (index && (o.arch ?? o.os ?? o.variant ?? o.osVersion ?? o.osFeatures ?? o.features) !== undefined) {
      throw new PlaitError(ErrorCodes.E_INVALID, 'manifest annotate --index takes only --annotation');
    }
    const { id } = await annotateList(store, positionals[0]!, index ? null : positionals[1]!, o);
    out(id);
    return 0;
  },

  async remove(args) {
    const { values, positionals } = parseFlags('manifest remove', args, STORE_FLAG);
    need(positionals, 2, 'remove LIST DIGEST: a list and an instance digest are needed');
    const store = await openStore(values);
    const { id } = await removeFromList(store, positionals[0]!, positionals[1]!);
    out(id);
    return 0;
  },

  async inspect(args) {
    const { values, positionals } = parseFlags('manifest inspect', args, { ...STORE_FLAG, ...REGISTRY_FLAGS, raw: { type: 'boolean', help: 'print the manifest bytes exactly as stored' } });
    need(positionals, 1, 'inspect LIST|IMAGE');
    const store = await openStore(values);
    const target = positionals[0]!;
    let bytes: Buffer;
    const id = await store.resolve(target).catch(() => undefined);
    if (id) {
      bytes = (await store.readItem(id, MANIFEST_ITEM))!;
    } else if (!namesRegistry(target)) {
      // A bare name is a local list: a typo must not turn into a question to a public registry.
      throw new PlaitError(ErrorCodes.E_NOT_FOUND, `manifest inspect: no local list named ${JSON.stringify(target)} (to read a registry's, name the registry: docker://HOST/REPO:TAG)`);
    } else {
      try {
        bytes = (await openImage(target, transportOptions(values)).getManifest()).bytes;
      } finally {
        await closeAllClients();
      }
    }
    if (values.raw) process.stdout.write(bytes);
    else out(JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 4));
    return 0;
  },

  async push(args) {
    const { values, positionals } = parseFlags('manifest push', args, {
      ...STORE_FLAG, ...REGISTRY_FLAGS, ...SIDE_REGISTRY_FLAGS,
      all: { type: 'boolean', valued: true, default: true, help: "push the list's images too (default true; =false: only the list)" },
      format: { type: 'string', short: 'f', arg: 'oci|v2s2', help: 'convert the list to this manifest type' },
      digestfile: { type: 'string', arg: 'FILE', help: "write the pushed list's digest to FILE" },
      rm: { type: 'boolean', help: 'delete the list from the store after pushing it' },
      'remove-signatures': { type: 'boolean', help: "do not copy the images' signatures" },
      jobs: { type: 'string', arg: 'N', help: 'blobs copied at once (default 4)' },
      quiet: { type: 'boolean', short: 'q', help: 'do not print the "Writing manifest list" line' },
      'add-compression': { type: 'string', multiple: true, arg: 'ALGORITHM', help: 'also add a gzip or zstd instance for every platform the pushed list lacks it for (repeatable)' },
      'force-compression': { type: 'boolean', valued: true, help: 'rewrite every instance in --compression-format (default: true when --compression-format is given, as podman)' },
      'compression-format': { type: 'string', arg: 'ALGORITHM', help: 'gzip or zstd: the compression every pushed instance is rewritten in' },
      'compression-level': { type: 'string', arg: 'N', help: 'the compression level for recompressed layers' },
      'sign-by-sigstore-private-key': { type: 'string', multiple: true, arg: 'FILE', help: 'sign the list with this sigstore (cosign) private key' },
      'sign-by-gpg-key': { type: 'string', multiple: true, arg: 'FILE', help: 'sign the list with this armored OpenPGP private key' },
      'sign-passphrase-file': { type: 'string', arg: 'FILE', help: "read the keys' passphrase from FILE's first line (default: $PLAIT_PASSPHRASE)" },
      'sign-identity': { type: 'string', arg: 'REF', help: "sign under this reference (host/repo:tag) instead of DEST's; needed when DEST is an oci: layout" },
      lookaside: { type: 'string', arg: 'DIR', help: 'write GPG signatures to this lookaside directory' },
      referrers: { type: 'boolean', help: "carry each instance's referrers from its source: cosign .sig/.att/.sbom attachments and OCI artifacts with a subject" },
      'referrers-artifact-type': { type: 'string', multiple: true, arg: 'TYPE', help: 'with --referrers: only referrers of this artifact type (repeatable)' },
    });
    need(positionals, 1, 'push LIST [DEST]');
    const artifactTypes = values['referrers-artifact-type'] as string[] | undefined;
    if (artifactTypes && values.referrers !== true) throw new PlaitError(ErrorCodes.E_INVALID, 'manifest push: --referrers-artifact-type needs --referrers');
    const store = await openStore(values);
    const listName = positionals[0]!;
    const destName = positionals[1] ?? listName;
    const jobs = values.jobs === undefined ? 4 : Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1) throw new PlaitError(ErrorCodes.E_INVALID, `--jobs must be a positive integer, not ${String(values.jobs)}`);
    const transport = transportOptions(values);
    const level = values['compression-level'] === undefined ? undefined : Number(values['compression-level']);
    if (level !== undefined && !Number.isInteger(level)) throw new PlaitError(ErrorCodes.E_INVALID, '--compression-level must be an integer');
    const signers = await pushSigners(values);
    const signIdentity = str(values['sign-identity']);
    if (signIdentity !== undefined && signers.length === 0) throw new PlaitError(ErrorCodes.E_INVALID, 'manifest push: --sign-identity needs a --sign-by-… key');
    const { id, list } = await List.loadFromImage(store, listName);
    try {
      const dest = openImage(destName, transport, 'destination');
      const r = await push(store, list, dest, {
        selection: values.all === false ? 'specific' : 'all',
        instances: [],
        manifestType: str(values.format) ?? '',
        transport,
        jobs,
        addCompression: (values['add-compression'] as string[] | undefined) ?? [],
        forceCompressionFormat: forceCompression(values['force-compression'], str(values['compression-format'])),
        ...(str(values['compression-format']) && { compressionFormat: str(values['compression-format']) }),
        ...(level !== undefined && { compressionLevel: level }),
        cacheStore: store,
        signers,
        ...(signIdentity !== undefined && { identities: [signIdentity] }),
        removeSignatures: values['remove-signatures'] === true,
        ...(values.referrers === true && { referrers: { ...(artifactTypes && { artifactTypes }) } }),
      });
      if (typeof values.digestfile === 'string') await writeFile(values.digestfile, r.digest);
      if (!values.quiet) process.stderr.write(`Writing manifest list to ${dest.name}: ${r.digest}\n`);
    } finally {
      await closeAllClients();
    }
    if (values.rm) await store.deleteRecord(id);
    return 0;
  },

  async rm(args) {
    const { values, positionals } = parseFlags('manifest rm', args, {
      ...STORE_FLAG,
      force: { type: 'boolean', short: 'f', help: 'also remove a list that has push history (apply\'s record of what it pushed; rollback needs it)' },
    });
    need(positionals, 1, 'rm LIST…');
    const store = await openStore(values);
    let failed = false;
    for (const name of positionals) {
      try {
        // Only lists are removed through here, as podman's `manifest rm` refuses plain images.
        const { id } = await List.loadFromImage(store, name);
        const history = await readHistory(store, id);
        if (history.length > 0 && values.force !== true) {
          // Like podman rmi refusing an image in use: what would be lost is said, and --force is the way through.
          const last = history.at(-1)!;
          throw new PlaitError(ErrorCodes.E_CONFLICT, `manifest rm: ${name} has push history (${history.length} push${history.length === 1 ? '' : 'es'}, last ${last.digest} to ${last.destination}); removing it loses what rollback needs — use --force to remove it anyway`);
        }
        out(`Deleted: ${await store.deleteRecord(name)}`);
      } catch (e) {
        if (!isPlaitError(e)) throw e;
        process.stderr.write(`plait: ${e.message}\n`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },

  async exists(args) {
    const { values, positionals } = parseFlags('manifest exists', args, STORE_FLAG);
    need(positionals, 1, 'exists LIST');
    const store = await openStore(values);
    return (await store.resolve(positionals[0]!).catch(() => undefined)) ? 0 : 1;
  },

  async ls(args) {
    const { values } = parseFlags('manifest ls', args, STORE_FLAG);
    const store = await openStore(values);
    const rows = [['NAME', 'ID', 'DIGEST', 'INSTANCES']];
    for (const r of await store.listRecords()) {
      const bytes = await store.readItem(r.id, MANIFEST_ITEM);
      const n = bytes ? List.countInstances(bytes) : 0;
      rows.push([r.names.join(',') || '<none>', r.id.slice(0, 12), bytes ? digestOf(bytes) : '', String(n)]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows) out(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
    return 0;
  },
};

export const manifest: Command = {
  name: 'manifest',
  summary: 'podman/buildah-compatible list commands on the local store',
  description: OVERVIEW,
  subcommands: SUBCOMMANDS,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '-h' || sub === '--help') throw new HelpRequest('manifest', HELP_FLAG);
    const fn = subcommands[sub];
    if (!fn) throw new PlaitError(ErrorCodes.E_INVALID, `manifest: unknown command "${sub}" (see plait manifest --help)`);
    // A push writes to a registry: on Ctrl-C/SIGTERM it stops cleanly and says what was written.
    return sub === 'push' ? stoppable(() => fn(rest)) : fn(rest);
  },
};
