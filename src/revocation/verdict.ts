import { githubKeySet } from '../auth/decide.js';
import { fingerprint } from '../auth/verify.js';
import type { MemberRecord } from '../github/directory.js';
import type { RevocableSession, RevocationReason } from './types.js';

/** The outcome of re-checking one live session against GitHub's answer. */
export type Verdict =
  | { kind: 'keep'; /** True when kept only because GitHub was unavailable within the grace. */ unverified: boolean }
  | { kind: 'revoke'; reason: RevocationReason; message: string };

/** What the verdict needs besides the session and the record. */
export interface VerdictContext {
  org: string;
  /** Configured team slugs. */
  teams: readonly string[];
  /** GitHub confirmed that the org blocks the login (only asked on an org_block event). */
  blocked: boolean;
  /** Epoch ms of the login's last successful verification, if revocation knows one. */
  lastVerifiedAt: number | undefined;
  now: number;
  maxStaleMs: number;
}

// Fingerprints per key list: records are frozen and shared by all sessions of a login.
const fingerprintSets = new WeakMap<readonly string[], ReadonlySet<string>>();

/**
 * The pure revocation table: does `session` still hold, given what GitHub now says about
 * its login? It holds while the login is an active member of the team that granted the
 * session and the key it authenticated with is still on the GitHub account.
 */
export function judge(session: Pick<RevocableSession, 'login' | 'team' | 'fingerprint'>, record: MemberRecord, ctx: VerdictContext): Verdict {
  const where = `${ctx.org}/${session.team}`;
  if (ctx.blocked) return revoke('blocked', `blocked by the ${ctx.org} organization`);
  if (record.status === 'unavailable') {
    // Fail closed: GitHub down is not "removed", but it is not a verification either.
    const age = ctx.lastVerifiedAt === undefined ? Infinity : ctx.now - ctx.lastVerifiedAt;
    if (age < ctx.maxStaleMs) return { kind: 'keep', unverified: true };
    return revoke('unverifiable', 'membership could not be verified with GitHub for too long');
  }
  if (record.status === 'no_such_user') return revoke('no_such_user', `the GitHub account ${session.login} no longer exists`);
  const team = session.team.toLowerCase();
  if (!ctx.teams.some((t) => t.toLowerCase() === team)) return revoke('team_not_configured', `${where} no longer grants access here`);
  if (!record.teams.some((t) => t.toLowerCase() === team)) {
    if (record.pendingTeams.some((t) => t.toLowerCase() === team)) {
      return revoke('pending_invitation', `membership of ${where} is only a pending invitation`);
    }
    return revoke('not_member', `no longer a member of ${where}`);
  }
  if (!keyFingerprints(record.keys).has(session.fingerprint)) {
    return revoke('key_removed', 'the key used for this session was removed from GitHub');
  }
  return { kind: 'keep', unverified: record.stale };
}

/** `SHA256:` fingerprints of a user's GitHub keys (lines ssh2 cannot parse are skipped). */
export function keyFingerprints(keys: readonly string[]): ReadonlySet<string> {
  let set = fingerprintSets.get(keys);
  if (set) return set;
  const out = new Set<string>();
  for (const line of githubKeySet(keys)) {
    out.add(fingerprint(Buffer.from(line.slice(line.indexOf(' ') + 1), 'base64')));
  }
  set = out;
  fingerprintSets.set(keys, set);
  return set;
}

function revoke(reason: RevocationReason, what: string): Verdict {
  return { kind: 'revoke', reason, message: `access revoked: ${what}` };
}
