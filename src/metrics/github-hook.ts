import type { Octokit } from '@octokit/rest';
import type { GitHubPulse } from '../github/pulse.js';
import { metrics } from './metrics.js';

/**
 * Route templates for `teamssh_github_requests_total{route}`. teamssh builds most URLs itself
 * (`/users/alice`), so Octokit's `options.url` is often already filled in; both that and a
 * template (`/users/{username}`) are reduced to this one `:name` form. Anything else is
 * `other`: a label must never carry a login or grow without bound.
 */
const ROUTES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/users\/[^/]+$/, '/users/:u'],
  [/^\/users\/[^/]+\/keys$/, '/users/:u/keys'],
  [/^\/orgs\/[^/]+$/, '/orgs/:org'],
  [/^\/orgs\/[^/]+\/teams\/[^/]+$/, '/orgs/:org/teams/:team'],
  [/^\/orgs\/[^/]+\/teams\/[^/]+\/memberships\/[^/]+$/, '/orgs/:org/teams/:team/memberships/:u'],
  [/^\/orgs\/[^/]+\/blocks\/[^/]+$/, '/orgs/:org/blocks/:u'],
  [/^\/orgs\/[^/]+\/installation$/, '/orgs/:org/installation'],
  [/^\/app\/installations\/[^/]+\/access_tokens$/, '/app/installations/:id/access_tokens'],
  [/^\/app$/, '/app'],
  [/^\/user$/, '/user'],
  [/^\/rate_limit$/, '/rate_limit'],
];

/** The route template of a request URL: absolute or relative, concrete or `{param}` template. */
export function routeTemplate(url: string, baseUrl = ''): string {
  let p = url;
  if (baseUrl && p.startsWith(baseUrl)) p = p.slice(baseUrl.length);
  else if (/^https?:\/\//.test(p)) p = new URL(p).pathname.replace(/^\/api\/v3(?=\/)/, '');
  p = p.split('?')[0]!.replace(/\{[^}]+\}/g, 'x').replace(/\/+$/, '');
  return ROUTES.find(([re]) => re.test(p))?.[1] ?? 'other';
}

interface Answer {
  status?: number;
  headers?: Record<string, unknown>;
  response?: { status?: number; headers?: Record<string, unknown> };
}

/**
 * Counts and times every GitHub request of `octokit` (after Octokit's own retries), keeps
 * the rate-limit gauge from the answer's headers, and tells `pulse` whether GitHub answered.
 */
export function instrumentOctokit(octokit: Pick<Octokit, 'hook'>, pulse: GitHubPulse): void {
  octokit.hook.wrap('request', async (request, options) => {
    const route = routeTemplate(options.url, options.baseUrl);
    const end = metrics.githubDuration.startTimer();
    try {
      const res = await request(options);
      record(route, res.status, res.headers as Record<string, unknown>, pulse);
      return res;
    } catch (err) {
      const e = (err ?? {}) as Answer;
      // Octokit reports a failed fetch as status 500 with no response: that is no answer.
      record(route, e.response ? e.status : undefined, e.response?.headers, pulse);
      throw err;
    } finally {
      end();
    }
  });
}

function record(route: string, status: number | undefined, headers: Record<string, unknown> | undefined, pulse: GitHubPulse): void {
  metrics.githubRequests.inc({ route, status: status === undefined ? 'error' : String(status) });
  const remaining = Number(headers?.['x-ratelimit-remaining']);
  if (headers?.['x-ratelimit-remaining'] !== undefined && Number.isFinite(remaining)) metrics.githubRateLimitRemaining.set(remaining);
  // 401 (token), 403 (rate limit or SSO) and 429 fail every lookup as surely as an outage does.
  const usable = status !== undefined && status < 500 && status !== 401 && status !== 403 && status !== 429;
  if (usable) pulse.answered();
  else pulse.failed();
}
