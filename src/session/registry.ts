/**
 * The one owner of live sessions. Admission is synchronous: `tryAdmit` reserves a slot under
 * the per-login cap before anything is awaited, so sessions opened at the same moment (on
 * one connection or many) can never exceed it. Connection loss, shutdown, revocation and the
 * operator's `kill` all find sessions here.
 */

/** What the registry needs to know about a session to index it. */
export interface RegisteredSession {
  readonly id: string;
  /** Canonical GitHub login. */
  readonly login: string;
  /** `SHA256:` fingerprint of the key the session authenticated with. */
  readonly fingerprint: string;
  /** Configured teams the login was an active member of at authentication. */
  readonly teams: readonly string[];
  /** The SSH connection the session runs on. */
  readonly connectionId: string;
}

/** A reserved slot under the per-login cap; becomes a registered session or is released. */
export interface Admission<S extends RegisteredSession> {
  /** Indexes the session that holds this slot; call at once, before any await. */
  register(session: S): void;
  /** Frees the slot (and drops the session from every index); idempotent. */
  release(): void;
}

/** Live sessions by id, login, key fingerprint and team, under a per-login cap. */
export class SessionRegistry<S extends RegisteredSession> {
  private readonly byIdMap = new Map<string, S>();
  private readonly slots = new Map<string, number>();

  /** `maxPerLogin` may be a getter: a reload changes the cap for the next admission. */
  constructor(private readonly maxPerLogin: number | (() => number)) {}

  /**
   * Reserves a slot for `login`, or returns undefined when the login is at its cap. The
   * reservation counts at once; nothing can slip in between the check and the count.
   */
  tryAdmit(login: string): Admission<S> | undefined {
    const key = login.toLowerCase();
    const used = this.slots.get(key) ?? 0;
    if (used >= (typeof this.maxPerLogin === 'number' ? this.maxPerLogin : this.maxPerLogin())) return undefined;
    this.slots.set(key, used + 1);
    let held = true;
    let session: S | undefined;
    return {
      register: (s) => {
        if (!held || session) throw new Error('an admission registers one session, once');
        session = s;
        this.byIdMap.set(s.id, s);
      },
      release: () => {
        if (!held) return;
        held = false;
        if (session) this.byIdMap.delete(session.id);
        const n = (this.slots.get(key) ?? 1) - 1;
        if (n > 0) this.slots.set(key, n);
        else this.slots.delete(key);
      },
    };
  }

  /** Slots held by a login (registered sessions and admissions still starting). */
  count(login: string): number {
    return this.slots.get(login.toLowerCase()) ?? 0;
  }

  /** Number of registered live sessions. */
  get size(): number {
    return this.byIdMap.size;
  }

  /** The session with this id. */
  byId(id: string): S | undefined {
    return this.byIdMap.get(id);
  }

  /** Sessions of a GitHub login, compared case-insensitively as GitHub does. */
  byLogin(login: string): S[] {
    const key = login.toLowerCase();
    return this.filter((s) => s.login.toLowerCase() === key);
  }

  /** Sessions opened with the key of this fingerprint. */
  byFingerprint(fingerprint: string): S[] {
    return this.filter((s) => s.fingerprint === fingerprint);
  }

  /** Sessions whose login was a member of `team` (a configured team slug) at authentication. */
  byTeam(team: string): S[] {
    const key = team.toLowerCase();
    return this.filter((s) => s.teams.some((t) => t.toLowerCase() === key));
  }

  /** Sessions on one SSH connection, for when that connection is lost. */
  byConnection(connectionId: string): S[] {
    return this.filter((s) => s.connectionId === connectionId);
  }

  /** Distinct logins with live sessions (canonical spelling of their first session). */
  logins(): string[] {
    const seen = new Map<string, string>();
    for (const s of this.byIdMap.values()) if (!seen.has(s.login.toLowerCase())) seen.set(s.login.toLowerCase(), s.login);
    return [...seen.values()];
  }

  /** A snapshot of every live session, safe to iterate while sessions end. */
  all(): S[] {
    return [...this.byIdMap.values()];
  }

  // A linear scan: a bastion holds hundreds to a few thousand sessions, and these lookups
  // run on revocation and operator commands, never per packet.
  private filter(pred: (s: S) => boolean): S[] {
    const out: S[] = [];
    for (const s of this.byIdMap.values()) if (pred(s)) out.push(s);
    return out;
  }
}
