import { LRUCache } from 'lru-cache';
import type { Logger } from '../log.js';
import { KeyedQueue } from './keyed-queue.js';
import type { LiveSessionSource, RecheckRequest, RevocableSession, Revocation, RevocationDirectory } from './types.js';
import { judge } from './verdict.js';
import { metrics } from '../metrics/metrics.js';

/** Settings of the {@link Revoker}. */
export interface RevokerOptions {
  org: string;
  /** Configured team slugs. */
  teams: readonly string[];
  /** A live session survives a GitHub outage this long after its login's last verification. */
  maxStaleMs: number;
  directory: RevocationDirectory;
  sessions: LiveSessionSource;
  logger: Logger;
  now?: () => number;
}

/** Why a check runs: a webhook delivery (with its id, and whether it was an org_block) or revalidation. */
export type CheckCause = { trigger: 'webhook'; deliveryId: string; blocked: boolean } | { trigger: 'revalidation' };

/**
 * Re-checks logins against GitHub and revokes the live sessions whose identity no longer
 * holds. Checks of one login run in order; a webhook only says which logins to re-check:
 * the verdict always comes from GitHub's answer.
 */
export class Revoker {
  readonly #o: RevokerOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #queue: KeyedQueue;
  /** Last successful verification per login with live sessions: the outage grace is counted from it. */
  readonly #verifiedAt = new Map<string, number>();
  /** Sessions already revoked, so a second check does not log them twice. */
  readonly #revoked = new LRUCache<string, true>({ max: 10_000 });
  #teams: readonly string[];

  constructor(opts: RevokerOptions) {
    this.#o = opts;
    this.#teams = [...opts.teams];
    this.#now = opts.now ?? Date.now;
    this.#log = opts.logger;
    this.#queue = new KeyedQueue((login, err) =>
      this.#log.error({ event: 'revalidation_failed', code: 'ERR_REVALIDATION', login, err }, 're-checking a login failed'),
    );
  }

  /**
   * Takes a verified webhook's request: invalidates the cached answers it concerns at once
   * (so the very next login re-asks GitHub), then re-checks the logins that have live sessions.
   */
  request(req: RecheckRequest): Promise<void> {
    const cause: CheckCause = { trigger: 'webhook', deliveryId: req.deliveryId, blocked: req.kind === 'login' && req.blocked };
    const logins = req.kind === 'login' ? [req.login] : this.#loginsOfTeam(req.team);
    for (const login of logins) this.#o.directory.invalidate(login);
    const live = logins.filter((l) => this.#o.sessions.byLogin(l).length > 0);
    this.#log.info({ event: 'webhook_recheck', webhookEvent: req.event, deliveryId: req.deliveryId, invalidated: logins.length, liveLogins: live.length }, 'webhook: re-checking with GitHub');
    return Promise.all(live.map((l) => this.check(l, cause))).then(() => undefined);
  }

  /** Re-verifies one login with GitHub and revokes its sessions that no longer hold; never rejects. */
  check(login: string, cause: CheckCause): Promise<void> {
    return this.#queue.run(login.toLowerCase(), () => this.#check(login, cause));
  }

  /** Takes the configured teams of a reload: sessions a removed team granted end at their next check. */
  setTeams(teams: readonly string[]): void {
    this.#teams = [...teams];
  }

  /** Forgets logins without live sessions (called once per revalidation round). */
  prune(liveLogins: ReadonlySet<string>): void {
    for (const login of this.#verifiedAt.keys()) if (!liveLogins.has(login)) this.#verifiedAt.delete(login);
  }

  /** Resolves when every check queued so far has finished. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async #check(login: string, cause: CheckCause): Promise<void> {
    const key = login.toLowerCase();
    const record = await this.#o.directory.refresh(login);
    // Only a confirmed 204 from GitHub's block API counts; the event alone proves nothing.
    const blocked = cause.trigger === 'webhook' && cause.blocked ? await this.#o.directory.isBlocked(login) : false;
    if (record.status === 'ok' || record.status === 'no_such_user') {
      const at = record.status === 'ok' ? record.verifiedAt : this.#now();
      this.#verifiedAt.set(key, Math.max(at, this.#verifiedAt.get(key) ?? 0));
    }
    const sessions = this.#o.sessions.byLogin(login);
    const ctx = { org: this.#o.org, teams: this.#teams, blocked, lastVerifiedAt: this.#verifiedAt.get(key), now: this.#now(), maxStaleMs: this.#o.maxStaleMs };
    let unverified = 0;
    for (const session of sessions) {
      if (this.#revoked.has(session.id)) continue;
      const verdict = judge(session, record, ctx);
      if (verdict.kind === 'keep') {
        if (verdict.unverified) unverified += 1;
        continue;
      }
      this.#revoke(session, { reason: verdict.reason, message: verdict.message, trigger: cause.trigger, deliveryId: cause.trigger === 'webhook' ? cause.deliveryId : undefined });
    }
    if (unverified > 0) {
      const since = ctx.lastVerifiedAt === undefined ? undefined : ctx.now - ctx.lastVerifiedAt;
      this.#log.warn({ event: 'session_unverified', login, sessions: unverified, sinceVerifiedMs: since, maxStaleMs: this.#o.maxStaleMs, trigger: cause.trigger }, 'GitHub unavailable; live sessions go on within the grace');
    }
  }

  #revoke(session: RevocableSession, r: Revocation): void {
    this.#revoked.set(session.id, true);
    metrics.sessionsRevoked.inc({ reason: r.reason });
    this.#log.warn(
      { event: 'session_revoked', sessionId: session.id, login: session.login, fingerprint: session.fingerprint, team: session.team, reason: r.reason, trigger: r.trigger, deliveryId: r.deliveryId },
      `session revoked: ${r.message}`,
    );
    try {
      session.revoke(r);
    } catch (err) {
      this.#log.error({ event: 'revoke_failed', sessionId: session.id, err }, 'ending a revoked session failed');
    }
  }

  /** Logins a deleted team may have granted: its cached members, and every live session it granted. */
  #loginsOfTeam(team: string): string[] {
    const t = team.toLowerCase();
    const configured = this.#teams.some((c) => c.toLowerCase() === t);
    // A child team is not in any record (records list configured teams): any cached member and
    // any live session may owe its access to it. Re-asking them costs 304s, which are free.
    const out = new Set(this.#o.directory.cachedMembers(configured ? team : undefined).map((l) => l.toLowerCase()));
    for (const login of this.#o.sessions.logins()) {
      const granted = this.#o.sessions.byLogin(login).some((s) => s.team.toLowerCase() === t || s.teams.some((x) => x.toLowerCase() === t));
      if (!configured || granted) out.add(login.toLowerCase());
    }
    return [...out];
  }
}
