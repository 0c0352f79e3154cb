import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config/load.js';
import { ConfigError } from './config/load.js';
import { lookupAccount } from './launch/account.js';

/**
 * Checks what the pure config loader cannot: that every session account exists (and is not
 * root unless allowed) and every handler is an executable file. Reports all problems at once,
 * so a server never starts into a state where the first login fails.
 */
export async function preflight(config: Config, uid = process.getuid?.() ?? 0): Promise<void> {
  const problems: string[] = [];
  // The launcher must set the account's groups and ids, which only root may do (as with sshd).
  if (uid !== 0) problems.push('teamssh serve must start as root to run sessions as local accounts (sessions themselves never run as root unless TEAMSSH_ALLOW_ROOT_SESSIONS=true)');
  const s = config.sessions;
  const accounts = new Map<string, string>();
  if (s.shellUser) accounts.set(s.shellUser, 'TEAMSSH_SHELL_USER (sessions.shellUser)');
  for (const p of s.policies) if (p.account && !accounts.has(p.account)) accounts.set(p.account, `TEAMSSH_TEAM_POLICIES (sessions.policies, team ${p.team})`);
  for (const [name, where] of accounts) {
    try {
      const a = await lookupAccount(name);
      if (a.uid === 0 && !s.allowRoot) problems.push(`${where}: account "${name}" is root; set TEAMSSH_ALLOW_ROOT_SESSIONS=true to allow that explicitly`);
    } catch {
      problems.push(`${where}: local account "${name}" does not exist`);
    }
  }
  for (const p of s.policies) {
    if (!p.handler) continue;
    try {
      await access(path.resolve(p.handler), constants.X_OK);
    } catch {
      problems.push(`TEAMSSH_TEAM_POLICIES (sessions.policies, team ${p.team}): handler ${p.handler} is not an executable file`);
    }
  }
  for (const hook of config.auth.hooks) {
    try {
      await access(path.resolve(hook), constants.X_OK);
    } catch {
      problems.push(`TEAMSSH_AUTH_HOOKS (auth.hooks): hook ${hook} is not an executable file`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
}
