import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createPrivateKey, sign, randomBytes, X509Certificate } from 'node:crypto';
import { readFile, appendFile } from 'node:fs/promises';

// A small token issuer (the "realm" of the distribution token spec) for the lab's token-auth registry. It signs ES256
// JWTs with a certificate the registry trusts through auth.token.rootcertbundle, and grants each user the intersection
// of what it asked for and what its policy allows — so a pull-only user's token really cannot push.

export interface TokenUser {
  name: string;
  password: string;
  /** Actions granted on every repository (e.g. ['pull'] or ['pull', 'push', 'delete']). */
  actions: string[];
  /** An OAuth2 refresh token ("identity token" in auth.json) that stands for this user at POST /token. */
  identityToken?: string;
}

export interface TokenIssuerOptions {
  service: string;
  issuer: string;
  keyFile: string;
  certFile: string;
  users: TokenUser[];
  /** Repositories under this prefix may be pulled anonymously, as on public registries. */
  anonymousPullPrefix?: string;
  logFile: string;
  /** Seconds a token lives. */
  expiresIn?: number;
}

export interface TokenIssuer {
  url: string;
  realm: string;
  server: Server;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

interface Access { type: string; name: string; actions: string[] }

function parseScope(scope: string): Access | undefined {
  // repository:name[:tag-ish is not allowed]:actions — the name may contain ':' only via a port in a host-qualified
  // name, which registries never send, so split from the right.
  const last = scope.lastIndexOf(':');
  const first = scope.indexOf(':');
  if (first < 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

export async function startTokenIssuer(opts: TokenIssuerOptions): Promise<TokenIssuer> {
  const key = createPrivateKey(await readFile(opts.keyFile));
  const certDer = new X509Certificate(await readFile(opts.certFile)).raw;
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] }));

  const server = createServer((req, res) => {
    if (req.method === 'POST') {
      // The OAuth2 form (distribution's token spec, "OAuth2 Token Authentication"): read the body, then answer as GET.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => answer(req, res, new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
      return;
    }
    answer(req, res, undefined);
  });

  const answer = (req: IncomingMessage, res: ServerResponse, form: URLSearchParams | undefined) => {
    const url = new URL(req.url ?? '/', 'http://lab');
    if (form) {
      // Form parameters stand where a GET has its query; the grant says how the client proves who it is.
      for (const k of ['service', 'scope']) for (const v of form.getAll(k)) url.searchParams.append(k, v);
    }
    let user: TokenUser | undefined;
    const auth = req.headers.authorization;
    if (form?.get('grant_type') === 'refresh_token') {
      user = opts.users.find((u) => u.identityToken !== undefined && u.identityToken === form.get('refresh_token'));
      if (!user) {
        void appendFile(opts.logFile, `${new Date().toISOString()} POST ${url.pathname} 401 grant=refresh_token\n`);
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid refresh token' }] }));
        return;
      }
    } else if (form) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'unsupported_grant_type' }));
      return;
    }
    if (!form && auth?.startsWith('Basic ')) {
      const [name, ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      const password = rest.join(':');
      user = opts.users.find((u) => u.name === name && u.password === password);
      if (!user) {
        void appendFile(opts.logFile, `${new Date().toISOString()} ${req.method} ${url.pathname} 401 user=${name}\n`);
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }));
        return;
      }
    }
    if (url.pathname !== '/token' || url.searchParams.get('service') !== opts.service) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'INVALID', message: 'unknown service or path' }] }));
      return;
    }
    const access: Access[] = [];
    for (const s of url.searchParams.getAll('scope')) {
      for (const one of s.split(' ')) {
        const want = parseScope(one);
        if (!want || want.type !== 'repository') continue;
        const allowed = user
          ? user.actions
          : opts.anonymousPullPrefix !== undefined && want.name.startsWith(opts.anonymousPullPrefix) ? ['pull'] : [];
        const actions = want.actions.filter((a) => allowed.includes(a) || (a === '*' && allowed.includes('delete')));
        access.push({ type: 'repository', name: want.name, actions });
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = opts.expiresIn ?? 300;
    const claims = {
      iss: opts.issuer,
      sub: user?.name ?? '',
      aud: opts.service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    };
    const signingInput = `${header}.${b64url(JSON.stringify(claims))}`;
    // JWS ES256 wants the raw r||s form, not DER.
    const sig = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${b64url(sig)}`;
    void appendFile(opts.logFile, `${new Date().toISOString()} ${req.method} ${url.pathname} 200 user=${user?.name ?? '-'}${form ? ' grant=refresh_token' : ''} scope=${url.searchParams.getAll('scope').join(' ')} granted=${access.map((a) => `${a.name}:${a.actions.join(',')}`).join(' ')}\n`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() }));
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    realm: `${url}/token`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
