import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { GitHubAppCredentials } from './app-auth.js';
import { checkApp } from './app-probe.js';
import { classifyGitHubError, createGitHubClient, isHttpFailure, type GitHubClient } from './client.js';

/** Settings `teamssh check` needs to probe GitHub. */
export interface GitHubProbeOptions {
  apiUrl: string;
  token: string;
  /** Set when teamssh authenticates as a GitHub App (then `token` is empty). */
  app?: GitHubAppCredentials | undefined;
  org: string;
  teams: string[];
  requestTimeoutMs: number;
  userAgent: string;
  logger?: Logger;
}

/** One line of the report: what was checked, whether it passed, and a token-free explanation. */
export interface CheckLine {
  name: string;
  ok: boolean;
  detail: string;
}

/** The result of {@link probeGitHub}; `ok` is true when every line passed. */
export interface CheckReport {
  ok: boolean;
  lines: CheckLine[];
}

// Scopes that include read:org (GitHub scopes are hierarchical).
const ORG_READ_SCOPES = new Set(['read:org', 'write:org', 'admin:org']);

/** Probes the token, its rate limit, the org and every configured team, one line each. */
export async function probeGitHub(opts: GitHubProbeOptions): Promise<CheckReport> {
  // No retries: an operator running `check` wants the first answer, not a slow one.
  const client = createGitHubClient({ ...opts, logger: opts.logger ?? silentLogger(), retries: 0 });
  const server = watchServer(client, opts.apiUrl);
  const lines: CheckLine[] = [];
  const token = opts.app ? await checkApp(client, opts.app, opts.org) : await checkToken(client, opts.token);
  lines.push(...token.lines);
  // With a rejected token every later call would fail the same way: say it once.
  if (token.fatal) return { ok: false, lines: [server(), ...lines] };
  lines.push(await checkRateLimit(client, opts.token));
  lines.push(await probe(client, opts.token, `organization ${opts.org}`, `/orgs/${encodeURIComponent(opts.org)}`, (d) => `visible${nameOf(d, 'login')}`));
  for (const slug of opts.teams) {
    const url = `/orgs/${encodeURIComponent(opts.org)}/teams/${encodeURIComponent(slug)}`;
    lines.push(await probe(client, opts.token, `team ${opts.org}/${slug}`, url, (d) => `visible${nameOf(d, 'name')}`));
  }
  lines.unshift(server());
  return { ok: lines.every((l) => l.ok), lines };
}

/** Names the API server the probes talked to: github.com, or GHES with the version its answers carry. */
function watchServer(client: GitHubClient, apiUrl: string): () => CheckLine {
  let answered = false;
  let ghes: string | undefined;
  const note = (headers: Record<string, string | number | undefined> | undefined): void => {
    if (!headers) return;
    answered = true;
    const v = headers['x-github-enterprise-version'];
    if (v !== undefined) ghes = String(v);
  };
  client.hook.after('request', (res) => note(res.headers as Record<string, string | undefined>));
  client.hook.error('request', (err) => {
    note((err as { response?: { headers?: Record<string, string | undefined> } }).response?.headers);
    throw err;
  });
  return () => ({
    name: 'GitHub API server',
    ok: true,
    detail: `${apiUrl}: ${ghes ? `GitHub Enterprise Server ${ghes}` : answered ? 'GitHub (no GitHub Enterprise Server version header)' : 'no answer yet'}`,
  });
}

async function checkToken(client: GitHubClient, token: string): Promise<{ lines: CheckLine[]; fatal: boolean }> {
  try {
    const res = await client.request('GET /user');
    const scopesHeader = (res.headers as Record<string, string | undefined>)['x-oauth-scopes'];
    const lines: CheckLine[] = [{ name: 'token', ok: true, detail: `valid, authenticated as ${res.data.login}` }];
    lines.push(scopeLine(scopesHeader));
    return { lines, fatal: false };
  } catch (err) {
    const failure = classifyGitHubError(err, token);
    if (failure.reason === 'unauthorized') {
      return { lines: [{ name: 'token', ok: false, detail: 'GitHub rejected the token (401 Bad credentials): it is wrong, expired or revoked' }], fatal: true };
    }
    if (isHttpFailure(err) && err.status === 403 && failure.reason === 'forbidden') {
      // GitHub App installation tokens cannot read /user; the probes below still tell.
      return { lines: [{ name: 'token', ok: true, detail: 'accepted, but GET /user is forbidden (GitHub App installation token?)' }], fatal: false };
    }
    if (failure.reason === 'rate_limited') {
      // GitHub only counts requests it authenticated, so the token itself was accepted.
      return { lines: [{ name: 'token', ok: true, detail: `accepted, but scopes unknown: ${failure.detail}` }], fatal: false };
    }
    return { lines: [{ name: 'token', ok: false, detail: `could not check the token: ${failure.reason}: ${failure.detail}` }], fatal: true };
  }
}

/** Classic tokens list their scopes in `x-oauth-scopes`; fine-grained and App tokens send none. */
function scopeLine(header: string | undefined): CheckLine {
  if (header === undefined) {
    return {
      name: 'token scopes',
      ok: true,
      detail: 'no x-oauth-scopes header: a fine-grained or GitHub App token; it needs the organization "Members: read" permission (checked by the team lines below)',
    };
  }
  const scopes = header.split(',').map((s) => s.trim()).filter(Boolean);
  const hasOrg = scopes.some((s) => ORG_READ_SCOPES.has(s));
  return {
    name: 'token scopes',
    ok: hasOrg,
    detail: `classic token with scopes [${scopes.join(', ')}]; read:org ${hasOrg ? 'present' : 'MISSING (team memberships cannot be read)'}`,
  };
}

async function checkRateLimit(client: GitHubClient, token: string): Promise<CheckLine> {
  try {
    const { data } = await client.request('GET /rate_limit');
    const core = data.resources.core;
    const reset = new Date(core.reset * 1000).toISOString();
    return { name: 'rate limit', ok: core.remaining > 0, detail: `${core.remaining}/${core.limit} requests left, resets at ${reset}` };
  } catch (err) {
    // GHES ships with rate limiting off and then answers this route 404 "Rate limiting is not enabled."
    if (isHttpFailure(err) && err.status === 404 && /rate limiting is not enabled/i.test(err.message)) {
      return { name: 'rate limit', ok: true, detail: 'rate limiting is not enabled on this server (GitHub Enterprise Server)' };
    }
    const f = classifyGitHubError(err, token);
    return { name: 'rate limit', ok: false, detail: `${f.reason}: ${f.detail}` };
  }
}

async function probe(client: GitHubClient, token: string, name: string, url: string, describe: (data: unknown) => string): Promise<CheckLine> {
  try {
    const res = await client.request({ method: 'GET', url });
    return { name, ok: true, detail: describe(res.data) };
  } catch (err) {
    if (isHttpFailure(err) && err.status === 404) {
      return { name, ok: false, detail: 'not found, or not visible to this token (classic: read:org; fine-grained: Members: read)' };
    }
    const f = classifyGitHubError(err, token);
    return { name, ok: false, detail: `${f.reason}: ${f.detail}` };
  }
}

function nameOf(data: unknown, field: string): string {
  const v = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[field] : undefined;
  return typeof v === 'string' ? ` (${v})` : '';
}
