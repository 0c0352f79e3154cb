import type { InstallationInfo, GitHubAppCredentials } from './app-auth.js';
import { classifyGitHubError, isHttpFailure, type GitHubClient } from './client.js';
import type { CheckLine } from './probe.js';

/** Organization permissions that let an installation read team memberships. */
const MEMBERS_OK = new Set(['read', 'write']);

/**
 * `teamssh check` for a GitHub App: the JWT (so the key and the App id), the installation in
 * the organization (configured or looked up), and its permissions: without organization
 * "Members: read" no membership can be read, so that fails the check by name.
 */
export async function checkApp(client: GitHubClient, app: GitHubAppCredentials, org: string): Promise<{ lines: CheckLine[]; fatal: boolean }> {
  const key = app.privateKeyFile ? ` with the key in ${app.privateKeyFile}` : '';
  let appLine: CheckLine;
  try {
    const { data } = await client.request('GET /app');
    appLine = { name: 'authentication', ok: true, detail: `GitHub App ${nameOf(data, 'slug') ?? app.id} (id ${app.id})${key}: GitHub accepted its JWT` };
  } catch (err) {
    const f = classifyGitHubError(err, '');
    const detail = f.reason === 'unauthorized'
      ? `GitHub App id ${app.id}${key}: ${f.detail}`
      : `GitHub App id ${app.id}: could not check the App: ${f.reason}: ${f.detail}`;
    return { lines: [{ name: 'authentication', ok: false, detail }], fatal: true };
  }
  let inst: InstallationInfo;
  try {
    inst = (await client.auth()) as InstallationInfo;
  } catch (err) {
    const missing = isHttpFailure(err) && err.status === 404;
    const detail = missing
      ? `the App is not installed on organization ${org} (${app.installationId === undefined ? `GET /orgs/${org}/installation` : `installation ${app.installationId}`}: 404): install it there, or fix TEAMSSH_GITHUB_APP_INSTALLATION_ID`
      : `no installation token: ${classifyGitHubError(err, '').detail}`;
    return { lines: [appLine, { name: 'installation', ok: false, detail }], fatal: true };
  }
  const how = inst.lookedUp ? `found with GET /orgs/${org}/installation` : 'configured';
  const lines: CheckLine[] = [appLine];
  try {
    const { data } = await client.request('GET /app/installations/{installation_id}', { installation_id: inst.installationId });
    const account = nameOf((data as { account?: unknown }).account, 'login');
    const onOrg = account?.toLowerCase() === org.toLowerCase();
    lines.push({ name: 'installation', ok: onOrg, detail: `${inst.installationId} (${how}) on ${account ?? 'an unknown account'}${onOrg ? '' : `, not on organization ${org}`}` });
    lines.push(permissionLine(permissionsOf(data) ?? inst.permissions));
  } catch (err) {
    lines.push({ name: 'installation', ok: false, detail: `${inst.installationId} (${how}): cannot read it: ${classifyGitHubError(err, '').detail}` });
    lines.push(permissionLine(inst.permissions));
  }
  return { lines, fatal: false };
}

function permissionLine(permissions: Record<string, string>): CheckLine {
  const list = Object.entries(permissions).map(([k, v]) => `${k}:${v}`).sort().join(', ') || 'none';
  const ok = MEMBERS_OK.has(permissions.members ?? '');
  return {
    name: 'installation permissions',
    ok,
    detail: ok
      ? `${list}; organization Members: ${permissions.members} present`
      : `${list}; organization "Members: read" is MISSING: team memberships cannot be read (grant it in the App's settings, then accept the new permissions in the organization)`,
  };
}

function permissionsOf(data: unknown): Record<string, string> | undefined {
  const p = (data as { permissions?: unknown } | null)?.permissions;
  if (!p || typeof p !== 'object') return undefined;
  return Object.fromEntries(Object.entries(p).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function nameOf(data: unknown, field: string): string | undefined {
  const v = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[field] : undefined;
  return typeof v === 'string' ? v : undefined;
}
