import { createAppAuth } from '@octokit/auth-app';
import type { Logger } from '../log.js';
import { TeamsshError } from '../errors.js';

/** What teamssh needs to authenticate as a GitHub App (from `github.app`). */
export interface GitHubAppCredentials {
  id: number;
  /** PKCS#8 PEM; never logged. */
  privateKey: string;
  /** Absent: asked once with `GET /orgs/{org}/installation`. */
  installationId?: number | undefined;
  privateKeyFile?: string | undefined;
}

/** What the installation token currently in use was granted (no token: it is never handed out). */
export interface InstallationInfo {
  installationId: number;
  /** True when the id came from `GET /orgs/{org}/installation`, false when configured. */
  lookedUp: boolean;
  permissions: Record<string, string>;
  expiresAt: string;
}

// Refresh this long before `expires_at` (GitHub's tokens last an hour), at most a quarter of a
// token's life, so a short-lived token is not refreshed on every request.
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * The installation-token cache handed to @octokit/auth-app (what auth-app does: docs/external-systems.md §7). Its own cache keeps a token 59
 * minutes after minting whatever `expires_at` says; this one drops it a margin before
 * `expires_at`, and `clear()` drops it when GitHub refused it early (revoked, expired).
 * The value format, `token|createdAt|expiresAt|…`, is auth-app 8's (dist-src/cache.js).
 */
export class InstallationTokenCache {
  readonly #entries = new Map<string, string>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The cached value, or undefined (which makes auth-app mint a new token) when it is due for refresh. */
  get(key: string): string {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined as unknown as string;
    const [, created, expires] = value.split('|');
    const createdAt = Date.parse(created ?? '');
    const expiresAt = Date.parse(expires ?? '');
    // An unreadable expiry (a changed format) falls back to auth-app's own 59 minutes; nothing readable: mint anew.
    const refreshAt = Number.isFinite(expiresAt) && Number.isFinite(createdAt)
      ? expiresAt - Math.min(REFRESH_MARGIN_MS, (expiresAt - createdAt) / 4)
      : Number.isFinite(createdAt) ? createdAt + 59 * 60_000 : -Infinity;
    if (this.#now() >= refreshAt) {
      this.#entries.delete(key);
      return undefined as unknown as string;
    }
    return value;
  }

  /** Stores what auth-app minted. */
  set(key: string, value: string): void {
    this.#entries.set(key, value);
  }

  /**
   * Forgets the tokens minted before `before` (epoch ms): a request that started with an old
   * token and was refused must not throw away the new one a concurrent request just minted.
   */
  dropMintedBefore(before: number): void {
    for (const [key, value] of this.#entries) {
      const createdAt = Date.parse(value.split('|')[1] ?? '');
      if (!(createdAt >= before)) this.#entries.delete(key);
    }
  }
}

type RequestFn = (route: string, params?: Record<string, unknown>) => Promise<{ data: unknown }>;
interface HookRequest extends RequestFn {
  endpoint: { merge(route: unknown, params?: unknown): { url: string }; DEFAULTS: { baseUrl: string } };
}
type AppAuth = ReturnType<typeof createAppAuth>;

/** The options Octokit hands an `authStrategy`: its own, plus ours from `auth`. */
export interface AppStrategyOptions {
  request: RequestFn;
  log: { warn: (msg: string) => unknown; [k: string]: unknown };
  app: GitHubAppCredentials;
  org: string;
  logger: Logger;
}

// Routes GitHub authenticates with the App's JWT (auth-app's list, cut to what can reach it here).
const APP_ROUTE = /^\/app(?:\/|$)|^\/(?:orgs|users|enterprises)\/[^/]+\/installation$|^\/repos\/[^/]+\/[^/]+\/installation$/;

function pathOf(url: string, baseUrl: string): string {
  const rest = url.startsWith(baseUrl) ? url.slice(baseUrl.length) : url;
  return rest.startsWith('/') ? rest.split('?')[0]! : new URL(rest).pathname;
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * Octokit `authStrategy` for a GitHub App installation: @octokit/auth-app signs the JWTs and
 * mints installation tokens; this adds the installation lookup by organization, a cache that
 * honours `expires_at`, and one retry with a new token when GitHub answers 401 to a token
 * auth-app still held (auth-app itself only retries a 401 within 5 s of minting, for replication
 * delay, with the same token).
 */
export function appAuthStrategy(o: AppStrategyOptions) {
  const cache = new InstallationTokenCache();
  const base = { appId: o.app.id, privateKey: o.app.privateKey, cache, log: o.log, request: o.request as never };
  const appOnly = createAppAuth(base);
  let installation: Promise<{ id: number; lookedUp: boolean; auth: AppAuth }> | undefined =
    o.app.installationId !== undefined
      ? Promise.resolve({ id: o.app.installationId, lookedUp: false, auth: createAppAuth({ ...base, installationId: o.app.installationId }) })
      : undefined;

  /** The installation's auth; the lookup runs once, and again after a failure. */
  const installed = (request: RequestFn) =>
    (installation ??= request('GET /orgs/{org}/installation', { org: o.org }).then(
      ({ data }) => {
        const id = (data as { id?: unknown }).id;
        if (typeof id !== 'number') throw new TeamsshError('ERR_GITHUB_APP_INSTALLATION', `GitHub answered GET /orgs/${o.org}/installation without an installation id`);
        o.logger.info({ event: 'github_app_installation', installationId: id, org: o.org }, 'GitHub App installation found for the organization');
        return { id, lookedUp: true, auth: createAppAuth({ ...base, installationId: id }) };
      },
      (err: unknown) => {
        installation = undefined;
        throw err;
      },
    ));

  const hook = async (request: HookRequest, route: unknown, params?: Record<string, unknown>): Promise<unknown> => {
    const { url } = request.endpoint.merge(route, params);
    if (APP_ROUTE.test(pathOf(url, request.endpoint.DEFAULTS.baseUrl))) return appOnly.hook(request as never, route as never, params);
    // The raw request of this hook: a lookup through Octokit's limiter could wait behind requests waiting for it.
    const { auth } = await installed((r, p) => appOnly.hook(request as never, r, p));
    const started = Date.now();
    try {
      return await auth.hook(request as never, route as never, params);
    } catch (err) {
      const failedUrl = (err as { request?: { url?: string } }).request?.url ?? '';
      if (statusOf(err) !== 401 || /\/access_tokens$/.test(failedUrl)) throw err;
      // GitHub refused a token auth-app still held (revoked, or expired before its cache let go): mint one, once.
      cache.dropMintedBefore(started);
      o.logger.warn({ event: 'github_app_token_refused', code: 'ERR_GITHUB_APP_TOKEN_REFUSED' }, 'GitHub refused the installation token (401); minting a new one');
      return auth.hook(request as never, route as never, params);
    }
  };

  /** `octokit.auth()`: the installation in use and what its token was granted, never a token (for `teamssh check`). */
  const auth = async (): Promise<InstallationInfo> => {
    const inst = await installed(o.request);
    const token = await inst.auth({ type: 'installation' });
    return { installationId: inst.id, lookedUp: inst.lookedUp, permissions: { ...token.permissions }, expiresAt: token.expiresAt };
  };
  return Object.assign(auth, { hook });
}
