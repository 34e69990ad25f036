// The rules behind the fixtures, one by one, and the cases where one mistake could echo into several lines.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPlaitError } from '../../../src/errors.js';
import { Problem, parseDocuments, problemsError, validateDocument, validateObject } from '../../../src/reconcile/spec/index.js';
import type { Context } from '../../../src/reconcile/spec/index.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plait-validate-'));
  await mkdir(join(dir, 'keys', 'a-directory'), { recursive: true });
  await writeFile(join(dir, 'keys', 'cosign.key'), 'x');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HEAD = `apiVersion: plait.dev/v1alpha1
kind: ManifestList
metadata:
  name: web
`;

const BODY = `spec:
  destination:
    image: registry.example.com/acme/web
    tags: [latest]
  sources:
    - image: registry.example.com/acme/web:amd64
`;

function check(text: string, opts: { context?: Context; env?: Record<string, string>; checkLocal?: boolean } = {}): string[] {
  const { documents, problems } = parseDocuments(text, 't.yaml', dir);
  expect(problems).toEqual([]);
  return documents.flatMap((d) => validateDocument(d, { context: opts.context ?? 'cli', env: opts.env ?? {}, ...(opts.checkLocal !== undefined && { checkLocal: opts.checkLocal }) }).map(String));
}

const spec = (extra: string): string => HEAD + BODY + extra;

describe('validateDocument', () => {
  it('accepts a minimal document', () => {
    expect(check(spec(''))).toEqual([]);
  });

  it('gives each mistake its own line, in position order', () => {
    expect(
      check(`${HEAD}spec:
  destination:
    image: 42
    tags: [latest, latest]
  format: oci
  formt: docker
  sources:
    - image: busybox
      platform: linux
      platforms: [linux/amd64]
  interval: 1s
`),
    ).toEqual([
      't.yaml:7:12: spec.destination.image: must be a string; quote it: "42"',
      't.yaml:8:20: spec.destination.tags[1]: duplicate "latest" (also at [0])',
      't.yaml:10:3: spec: unknown field "formt" (did you mean "format"?)',
      't.yaml:13:17: spec.sources[0].platform: must match os/arch[/variant], e.g. linux/arm64/v8',
      't.yaml:14:7: spec.sources[0].platforms: cannot be combined with platform; use one of them',
      't.yaml:15:13: spec.interval: must be at least 10s',
    ]);
  });

  it('reports a top-level typo and the field it leaves missing', () => {
    expect(check(HEAD + BODY.replace('spec:', 'specs:'))).toEqual([
      't.yaml:1:1: spec: is required',
      't.yaml:5:1: unknown field "specs" (did you mean "spec"?)',
    ]);
  });

  it('says what was found when a type is wrong, and nothing more about it', () => {
    expect(check(`${HEAD}spec: [a]\n`)).toEqual(['t.yaml:5:7: spec: must be a mapping, not a list']);
    expect(check(`${HEAD}spec:\n`)).toEqual(['t.yaml:5:1: spec: must be a mapping, not empty']);
    expect(check(spec('  historyLimit: 2.5\n'))).toEqual(['t.yaml:11:17: spec.historyLimit: must be an integer, not 2.5']);
    expect(check(spec('  format: 7\n'))).toEqual(['t.yaml:11:11: spec.format: must be a string; quote it: "7"']);
    expect(check(spec('  sources2: x\n')).length).toBe(1);
  });

  it('stops at apiVersion and kind: another kind of document is not checked further', () => {
    // Files hand other APIs' objects over as skipped, not as documents; one given directly is still refused.
    const deployment = parseDocuments('apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 3}\n', 't.yaml', dir);
    expect([deployment.documents, deployment.skipped]).toEqual([[], [{ file: 't.yaml', index: 0, line: 1, apiVersion: 'apps/v1', kind: 'Deployment' }]]);
    expect(validateObject({ apiVersion: 'apps/v1', kind: 'Deployment', spec: { replicas: 3 } }, { file: 't.yaml', context: 'cli' }).map(String)).toEqual([
      't.yaml: apiVersion: must be plait.dev/v1alpha1, not "apps/v1"',
      't.yaml: kind: must be ManifestList, not "Deployment"',
    ]);
    expect(check('metadata: {name: web}\n')).toEqual([
      't.yaml:1:1: apiVersion: is required (plait.dev/v1alpha1)',
      't.yaml:1:1: kind: is required (ManifestList)',
    ]);
  });

  describe('references', () => {
    it('accepts docker:// and oci: destinations and pinned sources with a tag', () => {
      expect(check(spec('').replace('image: registry.example.com/acme/web\n', 'image: docker://registry.example.com/acme/web\n'))).toEqual([]);
      expect(check(spec('').replace('image: registry.example.com/acme/web\n', 'image: oci:/tmp/out\n'))).toEqual([]);
      expect(check(spec(`    - image: busybox:1.36@sha256:${'a'.repeat(64)}\n`))).toEqual([]);
    });

    it('refuses an OCI layout name that is a tag but not an org.opencontainers.image.ref.name', () => {
      expect(check(spec('').replace('image: registry.example.com/acme/web\n', 'image: oci:out\n').replace('[latest]', '[latest, _tmp]'))).toEqual([
        't.yaml:8:20: spec.destination.tags[1]: is not a valid name in an OCI layout: letters and digits separated by one of "-._:@+" or "--"',
      ]);
    });

    it('refuses docker: without // and the @@unknown-digest@@ form as a destination', () => {
      expect(check(spec('').replace('image: registry.example.com/acme/web\n', 'image: docker:registry.example.com/acme/web\n'))).toEqual([
        't.yaml:7:12: spec.destination.image: invalid image name "docker:registry.example.com/acme/web": a docker: reference must start with docker://',
      ]);
      expect(check(spec('').replace('image: registry.example.com/acme/web\n', 'image: registry.example.com/acme/web@@unknown-digest@@\n'))).toEqual([
        't.yaml:7:12: spec.destination.image: must be a repository without tag or digest',
      ]);
    });
  });

  describe('platforms', () => {
    it('normalises aliases before comparing, and keeps Windows builds apart', () => {
      expect(check(spec('  platforms: [linux/amd64, linux/x86_64]\n'))).toEqual([
        't.yaml:11:28: spec.platforms[1]: is the same platform as [0] (linux/amd64)',
      ]);
      expect(check(spec('  platforms: ["windows(10.0.17763)/amd64", "windows(10.0.20348)/amd64"]\n'))).toEqual([]);
    });

    it('checks onConflict: error only between sources that name their platforms, and only inside the allowlist', () => {
      const two = (extra: string): string =>
        `${HEAD}spec:
  destination: {image: registry.example.com/acme/web, tags: [latest]}
  sources:
    - image: a.example.com/x:amd64
      platform: {os: linux, architecture: x86_64}
    - image: b.example.com/x
      platforms: [linux/amd64, linux/s390x]
    - image: c.example.com/x
${extra}`;
      expect(check(two('  onConflict: error\n'))).toEqual([
        't.yaml:11:19: spec.sources[1].platforms[0]: linux/amd64 is also taken from spec.sources[0] (onConflict: error)',
      ]);
      expect(check(two('  onConflict: replace\n'))).toEqual([]);
      expect(check(two('  onConflict: error\n  platforms: [linux/s390x]\n'))).toEqual([]);
    });
  });

  describe('signers', () => {
    const signer = (lines: string): string => spec(`  signatures:\n    sigstore:\n${lines}`);

    it('resolves key files against the spec file\'s directory and finds passphrase variables in the environment given', () => {
      const text = signer('      - privateKey: {file: keys/cosign.key}\n        passphrase: {env: COSIGN_PASSWORD}\n');
      expect(check(text, { env: { COSIGN_PASSWORD: '' } })).toEqual([]);
      expect(check(text)).toEqual(['t.yaml:14:27: spec.signatures.sigstore[0].passphrase.env: environment variable COSIGN_PASSWORD is not set']);
      expect(check(signer('      - privateKey: {file: keys/absent.key}\n        passphrase: {env: NOPE}\n'), { checkLocal: false })).toEqual([]);
    });

    it('never prints the value of a passphrase variable', () => {
      const text = signer('      - privateKey: {file: keys/absent.key}\n        passphrase: {env: COSIGN_PASSWORD}\n');
      expect(check(text, { env: { COSIGN_PASSWORD: 's3cr3t-value' } }).join('\n')).not.toContain('s3cr3t-value');
    });

    it('wants a file to be a file, and exactly one key source', () => {
      expect(check(signer('      - privateKey: {file: keys/a-directory}\n'))).toEqual([
        't.yaml:13:28: spec.signatures.sigstore[0].privateKey.file: "keys/a-directory" is not a file',
      ]);
      expect(check(signer('      - privateKey: {}\n'))).toEqual(['t.yaml:13:21: spec.signatures.sigstore[0].privateKey: must set one of file, secretRef']);
      expect(check(signer('      - passphrase: {env: X}\n'), { env: { X: '1' } })).toEqual(['t.yaml:13:9: spec.signatures.sigstore[0].privateKey: is required']);
    });

    it('allows secretRefs in the controller context only', () => {
      const text = signer('      - privateKey: {secretRef: {name: cosign, key: cosign.key}}\n') + '  secretRef: {name: regcred}\n';
      expect(check(text, { context: 'controller' })).toEqual([]);
      expect(check(text, { context: 'cli' })).toEqual([
        't.yaml:13:22: spec.signatures.sigstore[0].privateKey.secretRef: secretRef can only be read by the controller; the CLI reads keys from a file',
        't.yaml:14:3: spec.secretRef: can only be read by the controller; the CLI takes registry credentials from its auth files (--authfile)',
      ]);
    });
  });

  describe('controller fields', () => {
    const refs = '  certSecretRef: {name: registry-tls}\n  caConfigMapRef: {name: registry-ca, key: bundle.pem}\n';

    it('accepts certSecretRef and caConfigMapRef in the controller context only, one line each in the CLI', () => {
      expect(check(spec(refs), { context: 'controller' })).toEqual([]);
      expect(check(spec(refs), { context: 'cli' })).toEqual([
        't.yaml:11:3: spec.certSecretRef: names a Secret, which only the controller can read; the CLI trusts CAs and client certificates from --cert-dir',
        't.yaml:12:3: spec.caConfigMapRef: names a ConfigMap, which only the controller can read; the CLI trusts CAs and client certificates from --cert-dir',
      ]);
    });

    it('checks the references\' shape in either context', () => {
      const bad = '  certSecretRef: {name: Registry_TLS}\n  caConfigMapRef: {key: ca.crt}\n';
      expect(check(spec(bad), { context: 'controller' })).toEqual([
        't.yaml:11:25: spec.certSecretRef.name: must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
        't.yaml:12:3: spec.caConfigMapRef.name: is required',
      ]);
      // A reference the schema refused is not reported a second time as CLI-only.
      expect(check(spec(bad), { context: 'cli' })).toHaveLength(2);
    });

    it('accepts timeout and retryInterval as Go durations in both contexts', () => {
      const text = spec('  timeout: 90s\n  retryInterval: 1m30s\n');
      expect(check(text, { context: 'cli' })).toEqual([]);
      expect(check(text, { context: 'controller' })).toEqual([]);
    });

    it('refuses a timeout or retryInterval that is not a duration, is zero or does not fit', () => {
      expect(check(spec('  timeout: 5 minutes\n  retryInterval: 0s\n'))).toEqual([
        't.yaml:11:12: spec.timeout: must be a Go duration such as 45s, 10m or 1h30m',
        't.yaml:12:18: spec.retryInterval: must be longer than 0s',
      ]);
      expect(check(spec('  timeout: 3000000h\n'))).toEqual(['t.yaml:11:12: spec.timeout: invalid duration "3000000h": out of range']);
    });
  });

  it('reports an interval that does not fit in Go\'s int64', () => {
    expect(check(spec('  interval: 3000000h\n'))).toEqual(['t.yaml:11:13: spec.interval: invalid duration "3000000h": out of range']);
  });

  it('validates status when it is there', () => {
    expect(check(spec('status:\n  conditions:\n    - {type: Ready, status: "yes", reason: Pushed, message: "", lastTransitionTime: yesterday}\n'))).toEqual([
      't.yaml:13:29: status.conditions[0].status: must be one of True, False, Unknown (got "yes")',
      't.yaml:13:85: status.conditions[0].lastTransitionTime: must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z',
    ]);
  });
});

describe('validateObject', () => {
  it('validates a custom resource without positions', () => {
    const doc = {
      apiVersion: 'plait.dev/v1alpha1',
      kind: 'ManifestList',
      metadata: { name: 'web', namespace: 'acme', uid: 'u', generation: 2, managedFields: [{}] },
      spec: { destination: { image: 'registry.example.com/acme/web', tags: ['latest'] }, sources: [{ image: 'busybox' }], format: 'zip', secretRef: { name: 'regcred' } },
    };
    expect(validateObject(doc, { file: 'acme/web', context: 'controller' }).map(String)).toEqual(['acme/web: spec.format: must be one of oci, docker (got "zip")']);
  });
});

describe('Problem', () => {
  it('prints FILE:LINE:COL: PATH: message, leaving out what it does not have', () => {
    expect(String(new Problem('a.yaml', 3, 7, 'spec.format', 'must be one of oci, docker'))).toBe('a.yaml:3:7: spec.format: must be one of oci, docker');
    expect(String(new Problem('a.yaml', 3, 7, '', 'YAML syntax error: x'))).toBe('a.yaml:3:7: YAML syntax error: x');
    expect(String(new Problem('a.yaml', 0, 0, '', 'no such file or directory'))).toBe('a.yaml: no such file or directory');
  });

  it('becomes one E_SPEC_INVALID error for callers that throw', () => {
    const e = problemsError([new Problem('a.yaml', 1, 1, 'kind', 'is required'), new Problem('b.yaml', 0, 0, '', 'no such file or directory')]);
    expect(isPlaitError(e, 'E_SPEC_INVALID')).toBe(true);
    expect(e.message).toBe('a.yaml:1:1: kind: is required\nb.yaml: no such file or directory');
  });
});

describe('platform values that exist', () => {
  it('refuses an unknown architecture in spec.platforms at its position, with a suggestion', () => {
    expect(check(`${HEAD}${BODY}  platforms: [linux/arm64, linux/amd46]\n`)).toEqual([
      't.yaml:11:28: spec.platforms[1]: unknown architecture "amd46" (did you mean amd64?)',
    ]);
  });

  it('points at the field of a mapping platform', () => {
    const body = BODY.replace('web:amd64\n', 'web:amd64\n      platform: {os: lnux, architecture: amd64}\n');
    expect(check(`${HEAD}${body}`)).toEqual(['t.yaml:11:22: spec.sources[0].platform.os: unknown operating system "lnux" (did you mean linux?)']);
  });
});
