import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';

/**
 * The GitHub App side of the fake GitHub, as docs/external-systems.md ("GitHub Apps") says GitHub
 * does it: App endpoints take an RS256 JWT signed with the App's key (checked against its public
 * key, with GitHub's iat/exp rules and its 401 messages); an installation mints tokens with an
 * `expires_at`; an expired or revoked token gets 401 Bad credentials; an installation token
 * cannot read GET /user, nor teams without the organization permission Members.
 * FakeGitHub mounts it with `gh.installApp(app)`.
 */

/** A fresh App key pair; `privateKeyPem` is PKCS#1, the form GitHub's "Generate a private key" downloads. */
export function generateAppKey(): { privateKeyPem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string, publicKey };
}

/** An answer of the App's routes. */
export interface AppAnswer {
  status: number;
  body: unknown;
}

const DECODE = "A JSON web token could not be decoded";
const EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future";
const EXP_PAST = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
const IAT_BAD = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";

/** One App, installed (or not) on the fake's organization. */
export class FakeGitHubApp {
  readonly appId: number;
  readonly installationId: number;
  readonly slug = 'teamssh-test';
  /** The installation's permissions; drop `members` to see a missing "Members: read". */
  permissions: Record<string, string> = { members: 'read', metadata: 'read' };
  /** False: the org has not installed the App (its installation routes answer 404). */
  installed = true;
  /** Lifetime of a minted token; GitHub's is one hour. */
  tokenTtlMs = 3_600_000;
  /** Seconds of clock drift GitHub tolerates on iat and exp. */
  clockSkewS = 60;
  /** Tokens minted so far (count only; tokens are not kept here). */
  minted = 0;
  /** JWTs refused, by GitHub's message. */
  readonly refusedJwts: string[] = [];

  readonly #publicKey: KeyObject;
  readonly #tokens = new Map<string, { expiresAt: number }>();

  constructor(opts: { appId?: number; installationId?: number; publicKey: KeyObject | string }) {
    this.appId = opts.appId ?? 4242;
    this.installationId = opts.installationId ?? 777;
    this.#publicKey = typeof opts.publicKey === 'string' ? createPublicKey(opts.publicKey) : opts.publicKey;
  }

  /** Makes every token minted so far answer 401 from now on, as a revocation or expiry does. */
  expireTokens(): this {
    for (const t of this.#tokens.values()) t.expiresAt = 0;
    return this;
  }

  /** What an `Authorization` header is to the installation: a live token, a dead one, or none of its tokens. */
  tokenState(authorization: string): 'valid' | 'expired' | 'unknown' {
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(authorization);
    const t = m ? this.#tokens.get(m[1]!) : undefined;
    if (!t) return 'unknown';
    return Date.now() < t.expiresAt ? 'valid' : 'expired';
  }

  /** Answers an App route (JWT-authenticated), or undefined when `path` is not one. */
  answer(method: string, path: string, authorization: string, org: string): AppAnswer | undefined {
    const seg = path.split('/').slice(1).map(decodeURIComponent);
    const orgInstallation = method === 'GET' && seg.length === 3 && seg[0] === 'orgs' && seg[2] === 'installation';
    if (seg[0] !== 'app' && !orgInstallation) return undefined;
    const refused = this.#checkJwt(authorization);
    if (refused) {
      this.refusedJwts.push(refused);
      return { status: 401, body: { message: refused, documentation_url: 'https://docs.github.com/rest' } };
    }
    const notFound = { status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } };
    if (orgInstallation) return this.installed && seg[1]!.toLowerCase() === org.toLowerCase() ? { status: 200, body: this.#installationJson(org) } : notFound;
    if (method === 'GET' && seg.length === 1) return { status: 200, body: { id: this.appId, slug: this.slug, name: 'teamssh test', owner: { login: org }, permissions: this.permissions, events: [] } };
    const ours = this.installed && seg[1] === 'installations' && seg[2] === String(this.installationId);
    if (method === 'GET' && seg.length === 3) return ours ? { status: 200, body: this.#installationJson(org) } : notFound;
    if (method === 'POST' && seg.length === 4 && seg[3] === 'access_tokens') {
      if (!ours) return notFound;
      const token = `ghs_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
      const expiresAt = Date.now() + this.tokenTtlMs;
      this.#tokens.set(token, { expiresAt });
      this.minted += 1;
      // GitHub gives expires_at in whole seconds.
      const expires = new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
      return { status: 201, body: { token, expires_at: expires, permissions: { ...this.permissions }, repository_selection: 'all' } };
    }
    return notFound;
  }

  /** What GitHub refuses an installation token on: GET /user, and teams without Members permission. */
  forbidden(path: string): AppAnswer | undefined {
    const teams = /^\/orgs\/[^/]+\/teams(?:\/|$)/.test(path);
    if (path === '/user' || (teams && !this.permissions.members)) {
      return { status: 403, body: { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest' } };
    }
    return undefined;
  }

  #installationJson(org: string): object {
    return {
      id: this.installationId,
      app_id: this.appId,
      app_slug: this.slug,
      target_type: 'Organization',
      account: { login: org, id: 1, type: 'Organization' },
      permissions: { ...this.permissions },
      events: [],
      repository_selection: 'all',
      suspended_at: null,
    };
  }

  /** GitHub's checks of an App JWT: undefined when accepted, else its 401 message. */
  #checkJwt(authorization: string): string | undefined {
    const m = /^bearer\s+([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i.exec(authorization);
    if (!m) return DECODE;
    const [, h, p, sig] = m as unknown as [string, string, string, string];
    let header: { alg?: unknown };
    let claims: { iat?: unknown; exp?: unknown; iss?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return DECODE;
    }
    if (header.alg !== 'RS256') return DECODE;
    // The issuer picks the public key: a wrong App id and a wrong key read the same to GitHub.
    if (String(claims.iss) !== String(this.appId)) return DECODE;
    if (!verify('sha256', Buffer.from(`${h}.${p}`), this.#publicKey, Buffer.from(sig, 'base64url'))) return DECODE;
    const now = Math.floor(Date.now() / 1000);
    if (!Number.isInteger(claims.iat) || (claims.iat as number) > now + this.clockSkewS) return IAT_BAD;
    if (typeof claims.exp !== 'number' || claims.exp <= now - this.clockSkewS) return EXP_PAST;
    if (claims.exp - (claims.iat as number) > 600 || claims.exp > now + 600 + this.clockSkewS) return EXP_TOO_FAR;
    return undefined;
  }
}
