import type { Logger } from '../log.js';
import { classifyGitHubError, isHttpFailure, type GitHubClient } from './client.js';

/**
 * Asks GitHub whether the org blocks `login` (`GET /orgs/{org}/blocks/{username}`: 204 when
 * blocked). GitHub answers 404 both for "not blocked" and for a token without `admin:org`
 * (teamssh's token is normally read-only), so only `true` is an answer: `false` means "not
 * known to be blocked". An org cannot block a member without removing them first
 * (docs/github-webhooks.md), so the membership check catches a blocked user either way.
 */
export async function isBlockedByOrg(
  client: GitHubClient,
  opts: { org: string; token: string; requestTimeoutMs: number; logger: Logger },
  login: string,
): Promise<boolean> {
  const url = `/orgs/${encodeURIComponent(opts.org)}/blocks/${encodeURIComponent(login)}`;
  try {
    const res = await client.request({ method: 'GET', url, request: { signal: AbortSignal.timeout(opts.requestTimeoutMs) } });
    return res.status === 204;
  } catch (err) {
    if (!(isHttpFailure(err) && err.status === 404)) {
      const failure = classifyGitHubError(err, opts.token);
      opts.logger.warn({ login, reason: failure.reason, detail: failure.detail }, 'cannot ask GitHub whether the org blocks a user');
    }
    return false;
  }
}
