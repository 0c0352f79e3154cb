import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import type { Logger } from '../log.js';
import { appAuthStrategy, type GitHubAppCredentials } from './app-auth.js';
import { instrumentOctokit } from '../metrics/github-hook.js';
import { githubPulse } from './pulse.js';
import { DEFAULT_REQUEST_SLOTS, requestSlots } from './request-slots.js';

/** The GitHub REST base URL used when none is configured (GHES is `https://HOST/api/v3`). */
export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';

const TeamOctokit = Octokit.plugin(requestSlots, retry);

/** An Octokit with a cap on requests in flight, bounded retries and a per-request timeout. */
export type GitHubClient = InstanceType<typeof TeamOctokit>;

/** Settings for {@link createGitHubClient}. */
export interface GitHubClientOptions {
  apiUrl?: string | undefined;
  /** A token (classic or fine-grained); empty when `app` is set. */
  token: string;
  /** Authenticate as this GitHub App's installation in `org` instead of with `token`. */
  app?: GitHubAppCredentials | undefined;
  /** The organization (finds the App's installation when its id is not configured). */
  org?: string | undefined;
  userAgent: string;
  /** Each HTTP attempt is aborted after this long (headers and body). */
  requestTimeoutMs: number;
  logger: Logger;
  /** Extra attempts after a 5xx or network error; default 2. */
  retries?: number;
}

/** Why GitHub could not give an answer; the reasons are stable codes used in logs and records. */
export type UnavailableReason = 'network' | 'timeout' | 'server_error' | 'rate_limited' | 'unauthorized' | 'forbidden';

/** A classified failure to reach a usable GitHub answer. */
export interface GitHubFailure {
  reason: UnavailableReason;
  /** Safe to log: never contains the token. */
  detail: string;
  status?: number | undefined;
}

/** Thrown by our fetch wrapper when an attempt or the caller's deadline runs out. */
class GitHubTimeoutError extends Error {
  // Octokit passes errors named AbortError through untouched, and plugin-retry does not
  // retry them: a request that already used its whole time budget is not worth repeating.
  override name = 'AbortError';
  readonly code = 'ERR_GITHUB_TIMEOUT';
}

/** Builds the Octokit used for every GitHub call: it never waits for a rate-limit reset. */
export function createGitHubClient(opts: GitHubClientOptions): GitHubClient {
  const log = opts.logger;
  const client = new TeamOctokit({
    ...(opts.app
      ? { authStrategy: appAuthStrategy, auth: { app: opts.app, org: opts.org ?? '', logger: log } }
      : { auth: opts.token }),
    baseUrl: (opts.apiUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, ''),
    userAgent: opts.userAgent,
    // Octokit's request log reports every answer that is not 2xx as an error, 304 and 404
    // included, which are this client's normal answers (unchanged data; not a member). What
    // teamssh acts on it logs itself with context, so the per-request lines go to debug.
    log: {
      debug: (msg: string) => log.debug(msg),
      info: (msg: string) => log.debug(msg),
      warn: (msg: string) => log.warn(msg),
      error: (msg: string) => log.debug(msg),
    },
    request: { fetch: timedFetch(opts.requestTimeoutMs) },
    // GitHub's own best practice is few requests at once; 10, what Octokit's throttling allowed.
    maxConcurrentRequests: DEFAULT_REQUEST_SLOTS,
    retry: {
      retries: opts.retries ?? 2,
      // Waits are (attempt^2) x base: 100 ms then 400 ms. Only 5xx and network errors
      // are retried; 304 and every 4xx (429 included) are answers, not glitches.
      retryAfterBaseValue: 100,
      doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
    },
  });
  // A login has a ~30 s grace time and resets are up to an hour away: the caller answers
  // "unavailable" at once (and may serve a bounded-stale record); the operator sees why here.
  client.hook.error('request', (err, options) => {
    const limit = rateLimitOf(err);
    if (limit) log.warn({ method: options.method, url: options.url, retryAfterSeconds: limit.retryAfterSeconds }, limit.secondary ? 'GitHub secondary rate limit hit; not waiting' : 'GitHub rate limit exhausted; not waiting for the reset');
    throw err;
  });
  // Metrics and /readyz see every GitHub request this process makes.
  instrumentOctokit(client, githubPulse);
  return client;
}

/** A primary or secondary rate-limit answer (as Octokit's throttling recognised them), with the wait GitHub asks for. */
function rateLimitOf(err: unknown): { secondary: boolean; retryAfterSeconds: number } | undefined {
  if (!isHttpFailure(err) || !err.response || (err.status !== 403 && err.status !== 429)) return undefined;
  const h = err.response.headers;
  if (/\bsecondary rate\b/i.test(err.message)) return { secondary: true, retryAfterSeconds: Number(h['retry-after']) || 60 };
  if (h['x-ratelimit-remaining'] !== '0') return undefined;
  return { secondary: false, retryAfterSeconds: Math.max(0, Math.ceil(Number(h['x-ratelimit-reset']) - Date.now() / 1000)) };
}

/** Wraps global fetch so each attempt has its own timeout on top of any caller signal. */
function timedFetch(timeoutMs: number): typeof fetch {
  return async (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      return await fetch(input, { ...init, signal });
    } catch (err) {
      if (signal.aborted) throw new GitHubTimeoutError(`GitHub did not answer within ${timeoutMs} ms (or the lookup deadline passed)`);
      throw err;
    }
  };
}

/** The shape of an Octokit RequestError we rely on (duck-typed: @octokit/request-error is not our dependency). */
export interface HttpFailure {
  status: number;
  message: string;
  response?: { headers: Record<string, string | undefined>; data?: unknown } | undefined;
}

/** True for Octokit's RequestError (name "HttpError"), including the 304 it throws for Not Modified. */
export function isHttpFailure(err: unknown): err is HttpFailure {
  return err instanceof Error && err.name === 'HttpError' && typeof (err as { status?: unknown }).status === 'number';
}

/** Turns any error from a GitHub call into a stable reason; `token` is scrubbed from the detail. */
export function classifyGitHubError(err: unknown, token: string): GitHubFailure {
  // Installation tokens are minted at run time, so they are scrubbed by their prefix.
  const scrub = (s: string): string => (token ? s.split(token).join('[redacted]') : s).replace(/\bghs_[A-Za-z0-9_.-]+/g, '[redacted]').slice(0, 300);
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return { reason: 'timeout', detail: scrub(err.message) };
  }
  if (!isHttpFailure(err)) {
    return { reason: 'server_error', detail: scrub(err instanceof Error ? err.message : String(err)) };
  }
  const status = err.status;
  const headers = err.response?.headers ?? {};
  if (!err.response) {
    // Octokit reports a failed fetch (refused, reset, DNS) as status 500 without a response.
    return { reason: 'network', detail: scrub(`network error: ${err.message}`), status };
  }
  if (status === 401 && /JSON web token|'Issued at'|'Expiration time'/i.test(err.message)) {
    const said = err.message.replace(/ - https?:\/\/\S+$/, '');
    return { reason: 'unauthorized', detail: scrub(`GitHub rejected the App's JWT (401): ${said}: the private key is not this App's, the App id is wrong, or the clock is off`), status };
  }
  if (status === 401) return { reason: 'unauthorized', detail: scrub(`GitHub rejected the token (401): ${err.message}`), status };
  if (status === 429 || (status === 403 && (headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(err.message)))) {
    const reset = Number(headers['x-ratelimit-reset']);
    const when = Number.isFinite(reset) && reset > 0 ? `; resets at ${new Date(reset * 1000).toISOString()}` : '';
    return { reason: 'rate_limited', detail: scrub(`GitHub rate limit (${status})${when}`), status };
  }
  if (status === 403) {
    return { reason: 'forbidden', detail: scrub(`GitHub refused access (403; SAML SSO authorisation or missing permission?): ${err.message}`), status };
  }
  return { reason: 'server_error', detail: scrub(`GitHub answered ${status}: ${err.message}`), status };
}

/** A stored answer kept for conditional refreshes. */
export interface CachedPage {
  etag: string;
  data: unknown;
  /** The `rel="next"` URL of a paginated answer, if any. */
  next?: string | undefined;
}

/** One GET answer: fresh (`notModified` false) or the cached body confirmed by a 304. */
export interface ConditionalResult {
  data: unknown;
  etag?: string | undefined;
  next?: string | undefined;
  notModified: boolean;
}

/**
 * GETs `url` (a path under the base URL, or an absolute URL from a Link header), sending
 * `If-None-Match` when a cached answer exists; a 304 costs no rate limit and returns the cache.
 */
export async function conditionalGet(client: GitHubClient, url: string, cached: CachedPage | undefined, signal?: AbortSignal): Promise<ConditionalResult> {
  const headers: Record<string, string> = cached ? { 'if-none-match': cached.etag } : {};
  try {
    const res = await client.request({ method: 'GET', url, headers, request: signal ? { signal } : {} });
    const h = res.headers as Record<string, string | undefined>;
    return { data: res.data, etag: h.etag, next: nextLink(h.link), notModified: false };
  } catch (err) {
    if (cached && isHttpFailure(err) && err.status === 304) {
      return { data: cached.data, etag: cached.etag, next: cached.next, notModified: true };
    }
    throw err;
  }
}

/** Extracts the `rel="next"` target of a GitHub Link header. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

/** The items of every page of a list, and how many pages GitHub confirmed unchanged. */
export interface PaginatedResult {
  items: unknown[];
  pages: number;
  notModified: number;
  /** True when `maxPages` stopped the walk before the last page. */
  truncated: boolean;
}

/**
 * Walks a paginated list by its Link headers with one conditional GET per page
 * (octokit.paginate sends none), recording every page's ETag in `store`.
 */
export async function conditionalPaginate(
  client: GitHubClient,
  firstUrl: string,
  previous: ReadonlyMap<string, CachedPage> | undefined,
  store: Map<string, CachedPage>,
  signal?: AbortSignal,
  maxPages = 10,
): Promise<PaginatedResult> {
  const items: unknown[] = [];
  let url: string | undefined = firstUrl;
  let pages = 0;
  let notModified = 0;
  while (url !== undefined && pages < maxPages) {
    const res = await conditionalGet(client, url, previous?.get(url), signal);
    if (!Array.isArray(res.data)) throw new Error(`GitHub answered ${url} with something that is not a list`);
    if (res.etag) store.set(url, { etag: res.etag, data: res.data, next: res.next });
    items.push(...(res.data as unknown[]));
    pages += 1;
    if (res.notModified) notModified += 1;
    url = res.next;
  }
  return { items, pages, notModified, truncated: url !== undefined };
}
