import type { MemberRecord } from '../github/directory.js';

/**
 * The narrow contract between revocation and the live sessions. Revocation never holds a
 * session; it asks a {@link LiveSessionSource} for the sessions of a login when it has an
 * answer from GitHub, and calls `revoke` on those whose identity no longer holds. The
 * session registry is adapted to this shape where the server is wired.
 */

/** Why a live session was revoked; stable codes for the audit log and the recording's sidecar. */
export type RevocationReason =
  | 'not_member'
  | 'pending_invitation'
  | 'key_removed'
  | 'no_such_user'
  | 'blocked'
  | 'team_not_configured'
  /** GitHub could not confirm the identity for longer than TEAMSSH_CACHE_MAX_STALE (fail closed). */
  | 'unverifiable';

/** What made teamssh re-check: a GitHub webhook delivery or the periodic revalidation. */
export type RevocationTrigger = 'webhook' | 'revalidation';

/** Everything a session needs to end itself for a revocation. */
export interface Revocation {
  reason: RevocationReason;
  trigger: RevocationTrigger;
  /** `X-GitHub-Delivery` of the webhook that triggered the check (webhook trigger only). */
  deliveryId?: string | undefined;
  /** One line for the user, e.g. `access revoked: no longer a member of acme/devs`. */
  message: string;
}

/** A live session as revocation sees it. */
export interface RevocableSession {
  readonly id: string;
  /** Canonical GitHub login (as GitHub spells it). */
  readonly login: string;
  /** `SHA256:...` fingerprint of the key the session authenticated with. */
  readonly fingerprint: string;
  /** The configured team that granted the session (its policy chose the account and handler). */
  readonly team: string;
  /** Configured teams the login was an active member of when it authenticated. */
  readonly teams: readonly string[];
  /**
   * Ends the session for `r`: show `r.message` to the user, end the program, finalise the
   * recording with end reason `revoked` and `r.reason`. Must be idempotent and must not throw.
   */
  revoke(r: Revocation): void;
}

/** Where revocation finds the live sessions. Logins compare case-insensitively. */
export interface LiveSessionSource {
  /** The live sessions of `login` (any spelling); empty when there are none. */
  byLogin(login: string): readonly RevocableSession[];
  /** The logins with at least one live session (duplicates and spellings are tolerated). */
  logins(): Iterable<string>;
}

/** The part of the GitHub directory revocation uses (GitHubDirectory implements it). */
export interface RevocationDirectory {
  /** Re-ask GitHub now, conditionally; concurrent calls for one login share a round trip. */
  refresh(login: string): Promise<MemberRecord>;
  /** Make the next lookup of `login` ask GitHub; drops a cached "not a member". */
  invalidate(login: string): boolean;
  /** Logins cached as members of `team` (of any configured team when omitted). */
  cachedMembers(team?: string): string[];
  /** True only when GitHub confirms the org blocks `login`. */
  isBlocked(login: string): Promise<boolean>;
}

/**
 * What a webhook asks for, once its signature is verified: re-check one login, or every
 * login that a deleted team may have granted. The event is a trigger, never a verdict.
 */
export type RecheckRequest =
  | { kind: 'login'; login: string; event: string; deliveryId: string; blocked: boolean }
  | { kind: 'team'; team: string; event: string; deliveryId: string };
