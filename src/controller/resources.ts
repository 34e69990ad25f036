import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, rename, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlaitError, ErrorCodes } from '../errors.js';
import { isKubeError } from './kube/client.js';
import type { KubeClient } from './kube/client.js';

// What a ManifestList names in its namespace — registry credentials (a kubernetes.io/dockerconfigjson Secret), CA
// bundles (a Secret with ca.crt/tls.crt/tls.key, or a ConfigMap), signing keys and passphrases — is read at every
// reconcile, so a rotated Secret takes effect on the next one. The reconciler takes files (the CLI's code path), so
// each value is written into a private directory (0700, files 0600) named by a hash of its content: an unchanged
// Secret maps to the same path, and so to the same registry client and token cache; a rotated one to a new path.
// Nothing of it is ever logged; a missing Secret or key is named, never its content.

export class MissingReference extends PlaitError {
  constructor(message: string) {
    super(ErrorCodes.E_NOT_FOUND, message, { retryable: true });
  }
}

// Paths are named by their content, so a file that exists is already right. Reconciles of objects that share a
// Secret run at once: rewriting the file in place let one read it half-written ("auth file … is not valid JSON"
// under load), so a new file is written beside it and renamed into place.
export async function writeOnce(file: string, content: Buffer | string): Promise<void> {
  if (await access(file).then(() => true, () => false)) return;
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, file);
}

interface SecretObject { type?: string; data?: Record<string, string> }
interface ConfigMapObject { data?: Record<string, string>; binaryData?: Record<string, string> }

export class Materialiser {
  private root?: string;

  constructor(private readonly client: KubeClient) {}

  private async dir(): Promise<string> {
    if (!this.root) {
      this.root = await mkdtemp(join(tmpdir(), 'plait-controller-'));
      await chmod(this.root, 0o700);
    }
    return this.root;
  }

  private async write(kind: string, content: Buffer | string, name = kind): Promise<string> {
    const hash = createHash('sha256').update(kind).update('\0').update(content).digest('hex').slice(0, 32);
    const dir = join(await this.dir(), hash);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, name);
    await writeOnce(file, content);
    return file;
  }

  async secret(namespace: string, name: string): Promise<SecretObject> {
    try {
      return await this.client.request<SecretObject>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`);
    } catch (e) {
      if (isKubeError(e, 404)) throw new MissingReference(`Secret ${namespace}/${name} not found`);
      if (isKubeError(e, 403)) throw new MissingReference(`Secret ${namespace}/${name}: access denied to the controller's service account`);
      throw e;
    }
  }

  async secretKey(namespace: string, ref: { name: string; key: string }): Promise<Buffer> {
    const s = await this.secret(namespace, ref.name);
    const v = s.data?.[ref.key];
    if (v === undefined) throw new MissingReference(`Secret ${namespace}/${ref.name} has no key ${JSON.stringify(ref.key)}`);
    return Buffer.from(v, 'base64');
  }

  /** A private file holding one key of a Secret. */
  async secretKeyFile(namespace: string, ref: { name: string; key: string }): Promise<string> {
    return this.write(`secret-key:${namespace}/${ref.name}/${ref.key}`, await this.secretKey(namespace, ref), 'value');
  }

  /**
   * An auth file (containers' auth.json shape) from a dockerconfigjson Secret. Only `auths` is kept: credential
   * helpers and stores would make the controller run programs a Secret names.
   */
  async authFile(namespace: string, name: string): Promise<string> {
    const s = await this.secret(namespace, name);
    const raw = s.data?.['.dockerconfigjson'] ?? s.data?.['.dockercfg'];
    if (raw === undefined) {
      throw new MissingReference(`Secret ${namespace}/${name} is not of type kubernetes.io/dockerconfigjson (no .dockerconfigjson key)`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
    } catch {
      throw new PlaitError(ErrorCodes.E_INVALID, `Secret ${namespace}/${name}: .dockerconfigjson is not JSON`);
    }
    const obj = (parsed ?? {}) as { auths?: unknown };
    // .dockercfg is the old shape: the auths map itself.
    const auths = s.data?.['.dockerconfigjson'] !== undefined ? obj.auths : parsed;
    if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) {
      throw new PlaitError(ErrorCodes.E_INVALID, `Secret ${namespace}/${name}: .dockerconfigjson has no auths object`);
    }
    return this.write(`auth:${namespace}/${name}`, JSON.stringify({ auths }), 'auth.json');
  }

  /**
   * A certs.d-style directory: ca.crt (and client.cert/client.key) from a Secret with Flux's keys, plus a CA bundle from
   * a ConfigMap. Either may be missing.
   */
  async certDir(namespace: string, secret?: { name: string }, configMap?: { name: string; key?: string }): Promise<string | undefined> {
    if (!secret && !configMap) return undefined;
    const files: Array<[string, Buffer]> = [];
    if (secret) {
      const s = await this.secret(namespace, secret.name);
      const get = (k: string) => (s.data?.[k] !== undefined ? Buffer.from(s.data[k], 'base64') : undefined);
      const ca = get('ca.crt');
      const cert = get('tls.crt');
      const key = get('tls.key');
      if (!ca && !cert) throw new MissingReference(`Secret ${namespace}/${secret.name} has neither ca.crt nor tls.crt`);
      if ((cert === undefined) !== (key === undefined)) throw new PlaitError(ErrorCodes.E_INVALID, `Secret ${namespace}/${secret.name}: tls.crt and tls.key go together`);
      if (ca) files.push(['ca.crt', ca]);
      if (cert && key) files.push(['client.cert', cert], ['client.key', key]);
    }
    if (configMap) {
      const key = configMap.key ?? 'ca.crt';
      let cm: ConfigMapObject;
      try {
        cm = await this.client.request<ConfigMapObject>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(configMap.name)}`);
      } catch (e) {
        if (isKubeError(e, 404)) throw new MissingReference(`ConfigMap ${namespace}/${configMap.name} not found`);
        throw e;
      }
      const v = cm.data?.[key] ?? (cm.binaryData?.[key] !== undefined ? Buffer.from(cm.binaryData[key], 'base64').toString('utf8') : undefined);
      if (v === undefined) throw new MissingReference(`ConfigMap ${namespace}/${configMap.name} has no key ${JSON.stringify(key)}`);
      files.push(['configmap-ca.crt', Buffer.from(v)]);
    }
    const hash = createHash('sha256');
    for (const [n, b] of files) hash.update(n).update('\0').update(b).update('\0');
    const dir = join(await this.dir(), `certs-${hash.digest('hex').slice(0, 32)}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [n, b] of files) await writeOnce(join(dir, n), b);
    return dir;
  }

  async close(): Promise<void> {
    if (this.root) await rm(this.root, { recursive: true, force: true });
    this.root = undefined;
  }
}
