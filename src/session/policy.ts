import type { Config } from '../config/load.js';

/** What a logged-in member gets: the team that granted it, the local account and the program to run. */
export interface Grant {
  team: string;
  account: string;
  /** Handler program; undefined means the account's login shell. */
  handler: string | undefined;
}

/**
 * Picks the session policy for a member: the first configured policy (in configuration
 * order) whose team the member belongs to; otherwise the shell user with the login shell,
 * granted by the member's first configured team. The config loader already proved that
 * every team without a policy account has a shell user to fall back to.
 */
export function grantFor(teams: readonly string[], sessions: Config['sessions']): Grant | undefined {
  const member = new Set(teams.map((t) => t.toLowerCase()));
  for (const p of sessions.policies) {
    if (!member.has(p.team.toLowerCase())) continue;
    const account = p.account ?? sessions.shellUser;
    if (account) return { team: p.team, account, handler: p.handler };
  }
  const team = teams[0];
  if (!team || !sessions.shellUser) return undefined;
  return { team, account: sessions.shellUser, handler: undefined };
}
