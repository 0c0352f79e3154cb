import { LRUCache } from 'lru-cache';
import type { Logger } from '../log.js';
import {
  classifyGitHubError, conditionalGet, conditionalPaginate, createGitHubClient, isHttpFailure,
  type CachedPage, type GitHubClient, type GitHubClientOptions, type UnavailableReason,
} from './client.js';
import { isBlockedByOrg } from './blocks.js';
import { metrics } from '../metrics/metrics.js';

/** Settings of the cached GitHub identity source. */
export interface GitHubDirectoryOptions extends Pick<GitHubClientOptions, 'app'> {
  apiUrl: string;
  token: string;
  org: string;
  /** Configured team slugs, in configuration order. */
  teams: string[];
  /** A verified answer is trusted this long, then re-checked with conditional requests. */
  cacheTtlMs: number;
  /** A verified answer may still be used this long after verification while GitHub is unavailable. */
  maxStaleMs: number;
  /** "Not a member" and "no such user" are cached this long. */
  negativeTtlMs: number;
  requestTimeoutMs: number;
  /** Cap on one lookup's GitHub round trips, retries included; default requestTimeoutMs + 2000. */
  lookupDeadlineMs?: number;
  /** Default 20_000. */
  maxEntries?: number;
  userAgent: string;
  logger: Logger;
  /** Clock in epoch ms; tests inject one to step over TTLs. */
  now?: () => number;
  /** Test hook: use this client instead of building one. */
  client?: GitHubClient;
}

/** What GitHub says about one login, as far as teamssh cares. */
export type MemberRecord =
  | {
      status: 'ok';
      /** Canonical spelling GitHub returns. */
      login: string;
      /** Configured teams where the user is ACTIVE, in configuration order (empty = not a member). */
      teams: string[];
      /** Configured teams with only a pending invitation. */
      pendingTeams: string[];
      /** "ssh-ed25519 AAAA..." lines (type + base64) from GET /users/{u}/keys. */
      keys: string[];
      /** Epoch ms of the last successful verification. */
      verifiedAt: number;
      /** True when served past its TTL because GitHub was unavailable. */
      stale: boolean;
    }
  | { status: 'no_such_user'; login: string }
  | { status: 'unavailable'; reason: UnavailableReason; detail: string };

type KnownRecord = Exclude<MemberRecord, { status: 'unavailable' }>;

/** One cache slot: a verified record plus the ETags that make its refresh cheap. */
interface Entry {
  record: KnownRecord;
  verifiedAt: number;
  /** Answers by URL, replayed with If-None-Match on refresh. */
  pages: ReadonlyMap<string, CachedPage>;
  /**
   * Set by invalidate(): the next lookup re-asks GitHub (conditionally) however fresh the
   * entry is. The record stays for bounded-stale use, so a trigger never shortens an outage grace.
   */
  invalid?: boolean;
  /** True when GitHub confirmed every answer of the previous entry with a 304. */
  unchanged?: boolean;
}

/** Counters for logs, `teamssh check` and benchmarks. */
export interface DirectoryStats {
  entries: number;
  /** Lookups answered from a fresh entry with no HTTP request. */
  hits: number;
  /** Verifications against GitHub (concurrent lookups of one user count once). */
  fetches: number;
  /** Answers GitHub confirmed unchanged with a 304. */
  notModified: number;
  /** Entries marked for re-asking by invalidate(). */
  invalidations: number;
  /** Lookups answered with a stale record because GitHub was unavailable. */
  staleServed: number;
  /** Lookups answered "unavailable". */
  unavailable: number;
}

// GitHub logins are ASCII letters, digits and hyphens; EMU/GHES add underscores. Anything
// else cannot exist, so it is answered without spending rate limit.
const LOGIN_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** The cache in front of GitHub: answers "who is this login, in which teams, with which keys". */
export class GitHubDirectory {
  readonly #opts: GitHubDirectoryOptions;
  readonly #client: GitHubClient;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #cache: LRUCache<string, Entry>;
  readonly #stats = { hits: 0, fetches: 0, notModified: 0, invalidations: 0, staleServed: 0, unavailable: 0 };
  #teams: readonly string[];

  constructor(opts: GitHubDirectoryOptions) {
    this.#opts = opts;
    this.#teams = [...opts.teams];
    this.#now = opts.now ?? Date.now;
    // The caller's logger already carries its component binding (pino would repeat the key).
    this.#log = opts.logger;
    this.#client = opts.client ?? createGitHubClient(opts);
    this.#cache = new LRUCache<string, Entry>({
      max: opts.maxEntries ?? 20_000,
      // The LRU's own TTL only frees memory; freshness and staleness are decided in
      // lookup() from verifiedAt, so they never depend on lru-cache's stale semantics.
      ttl: Math.max(opts.cacheTtlMs, opts.maxStaleMs, 1),
      perf: { now: this.#now },
      // A failed refresh must leave the previous entry in place for bounded-stale use.
      noDeleteOnFetchRejection: true,
      fetchMethod: async (key, previous, { options }) => {
        const entry = await this.#verify(key, previous);
        options.ttl = this.#retention(entry.record);
        return entry;
      },
    });
  }

  /** Answers for `login` (case-insensitive) from cache, GitHub, or a bounded-stale record. */
  async lookup(login: string): Promise<MemberRecord> {
    if (!LOGIN_RE.test(login)) return { status: 'no_such_user', login };
    const key = login.toLowerCase();
    const now = this.#now();
    const current = this.#cache.get(key);
    if (current && !current.invalid && now < current.verifiedAt + this.#freshFor(current.record)) {
      this.#stats.hits += 1;
      metrics.githubCache.inc({ result: 'hit' });
      return current.record;
    }
    try {
      // forceRefresh makes a too-old entry wait for GitHub (a removed member must not get
      // one more login); concurrent callers join the in-flight fetch of the same key.
      const entry = await this.#cache.fetch(key, { forceRefresh: true });
      if (!entry) throw new Error('lookup produced no entry');
      metrics.githubCache.inc({ result: entry.unchanged ? 'not_modified' : 'miss' });
      return entry.record;
    } catch (err) {
      const answer = this.#whenUnavailable(key, err, current);
      metrics.githubCache.inc({ result: answer.status === 'ok' && answer.stale ? 'stale' : 'miss' });
      return answer;
    }
  }

  /**
   * Makes the next lookup of `login` ask GitHub again, however fresh its answer: a webhook
   * said something changed. A cached "not a member" is thereby dropped too, so a member added
   * a moment ago gets in at once. Returns whether anything was cached. Costs no request.
   */
  invalidate(login: string): boolean {
    const entry = this.#cache.peek(login.toLowerCase(), { allowStale: true });
    if (!entry) return false;
    // Mutated in place: re-setting the entry would restart its retention and drop nothing else.
    entry.invalid = true;
    this.#stats.invalidations += 1;
    return true;
  }

  /**
   * Re-verifies `login` with GitHub now (conditional requests: a 304 costs no rate limit) and
   * returns the answer; concurrent refreshes of one login share one round trip. GitHub
   * unavailable gives the usual bounded-stale or "unavailable" answer.
   */
  async refresh(login: string): Promise<MemberRecord> {
    this.invalidate(login);
    return this.lookup(login);
  }

  /**
   * Logins whose cached record names them active or pending in `team` (any configured team
   * when omitted). Child teams are invisible here: a record lists configured teams only.
   */
  cachedMembers(team?: string): string[] {
    const want = team?.toLowerCase();
    const out: string[] = [];
    for (const [key, entry] of this.#cache.entries()) {
      const rec = entry.record;
      if (rec.status !== 'ok') continue;
      const teams = [...rec.teams, ...rec.pendingTeams].map((t) => t.toLowerCase());
      if (want === undefined ? teams.length > 0 : teams.includes(want)) out.push(key);
    }
    return out;
  }

  /**
   * Takes the configured teams of a reload. Every cached answer lists teams of the old set,
   * so a change drops them all: a removed team must not grant a login from cache (nor from a
   * stale answer during an outage), and a member of an added team must not wait out a
   * cached "not a member".
   */
  setTeams(teams: readonly string[]): void {
    if (teams.length === this.#teams.length && teams.every((t, i) => t === this.#teams[i])) return;
    this.#teams = [...teams];
    this.#cache.clear();
  }

  /** Whether GitHub says the org blocks `login`; see {@link isBlockedByOrg} for what `false` means. */
  isBlocked(login: string): Promise<boolean> {
    return isBlockedByOrg(this.#client, { ...this.#opts, logger: this.#log }, login);
  }

  /** Seeds the cache with a verified record (benchmarks, tests). */
  prime(rec: KnownRecord): void {
    const copy: KnownRecord = rec.status === 'ok'
      ? { ...rec, teams: [...rec.teams], pendingTeams: [...rec.pendingTeams], keys: [...rec.keys], stale: false }
      : { ...rec };
    const verifiedAt = copy.status === 'ok' ? copy.verifiedAt : this.#now();
    this.#cache.set(copy.login.toLowerCase(), { record: freeze(copy), verifiedAt, pages: new Map() }, { ttl: this.#retention(copy) });
  }

  /** Current counters. */
  stats(): DirectoryStats {
    return { entries: this.#cache.size, ...this.#stats };
  }

  #freshFor(rec: KnownRecord): number {
    return isPositive(rec) ? this.#opts.cacheTtlMs : this.#opts.negativeTtlMs;
  }

  #retention(rec: KnownRecord): number {
    return isPositive(rec) ? Math.max(this.#opts.cacheTtlMs, this.#opts.maxStaleMs, 1) : Math.max(this.#opts.negativeTtlMs, 1);
  }

  #whenUnavailable(key: string, err: unknown, seen: Entry | undefined): MemberRecord {
    const failure = classifyGitHubError(err, this.#opts.token);
    const old = this.#cache.peek(key, { allowStale: true }) ?? seen;
    const age = old ? this.#now() - old.verifiedAt : Infinity;
    // Only positive answers are served stale: an outage must never turn into "not a member",
    // and a stale "member" is bounded by maxStaleMs since its last verification.
    if (old && old.record.status === 'ok' && isPositive(old.record) && age < this.#opts.maxStaleMs) {
      this.#stats.staleServed += 1;
      this.#log.warn({ login: old.record.login, reason: failure.reason, detail: failure.detail, ageMs: age }, 'GitHub unavailable; serving a stale verified record');
      return { ...old.record, stale: true };
    }
    this.#stats.unavailable += 1;
    const level = failure.reason === 'unauthorized' || failure.reason === 'forbidden' ? 'error' : 'warn';
    this.#log[level]({ login: key, reason: failure.reason, detail: failure.detail, status: failure.status }, 'GitHub unavailable; cannot verify login');
    return { status: 'unavailable', reason: failure.reason, detail: failure.detail };
  }

  /** Asks GitHub about one login within the lookup deadline, waiting for a request slot (src/github/request-slots.ts) included. */
  #verify(key: string, previous: Entry | undefined): Promise<Entry> {
    this.#stats.fetches += 1;
    const signal = AbortSignal.timeout(this.#opts.lookupDeadlineMs ?? this.#opts.requestTimeoutMs + 2000);
    // The signal aborts requests already on the wire; the race also ends a lookup still
    // waiting for a request slot behind slow requests of other logins.
    const deadline = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    return Promise.race([this.#ask(key, previous, signal), deadline]);
  }

  /** The GitHub round trips for one login, replaying the previous entry's ETags. */
  async #ask(key: string, previous: Entry | undefined, signal: AbortSignal): Promise<Entry> {
    const { org } = this.#opts;
    const teams = this.#teams;
    const pages = new Map<string, CachedPage>();
    let changed = false;
    const get = async (url: string): Promise<unknown> => {
      try {
        const res = await conditionalGet(this.#client, url, previous?.pages.get(url), signal);
        if (res.etag) pages.set(url, { etag: res.etag, data: res.data, next: res.next });
        if (res.notModified) this.#stats.notModified += 1;
        else changed = true;
        return res.data;
      } catch (err) {
        changed = true;
        if (isHttpFailure(err) && err.status === 404) return null;
        throw err;
      }
    };
    const enc = encodeURIComponent;
    // The user and every membership in parallel: one round trip for the common case.
    const [user, ...memberships] = await Promise.all([
      get(`/users/${enc(key)}`),
      ...teams.map((slug) => get(`/orgs/${enc(org)}/teams/${enc(slug)}/memberships/${enc(key)}`)),
    ]);
    const now = this.#now();
    const unchanged = previous !== undefined && !changed;
    if (user === null) return { record: freeze({ status: 'no_such_user', login: key }), verifiedAt: now, pages, unchanged };
    const login = stringField(user, 'login');
    const active: string[] = [];
    const pending: string[] = [];
    teams.forEach((slug, i) => {
      const state = memberships[i] === null ? undefined : stringField(memberships[i], 'state');
      // Any state other than these two (a future one, a malformed body) grants nothing.
      if (state === 'active') active.push(slug);
      else if (state === 'pending') pending.push(slug);
    });
    let keys: string[] = [];
    // Keys only matter for members; skipping them for others saves rate limit on login spam.
    if (active.length > 0) {
      const list = await conditionalPaginate(this.#client, `/users/${enc(login)}/keys?per_page=100`, previous?.pages, pages, signal);
      this.#stats.notModified += list.notModified;
      if (list.notModified < list.pages) changed = true;
      if (list.truncated) this.#log.warn({ login, pages: list.pages }, 'GitHub key list longer than the page cap; extra keys ignored');
      keys = list.items.map((k) => keyLine(stringField(k, 'key'))).filter((k): k is string => k !== undefined);
    }
    this.#log.debug({ login, teams: active, pendingTeams: pending, keys: keys.length }, 'verified against GitHub');
    const record: KnownRecord = { status: 'ok', login, teams: active, pendingTeams: pending, keys, verifiedAt: now, stale: false };
    return { record: freeze(record), verifiedAt: now, pages, unchanged: previous !== undefined && !changed };
  }
}

function isPositive(rec: KnownRecord): boolean {
  return rec.status === 'ok' && rec.teams.length > 0;
}

/** Reads a string property of a JSON answer, or fails the verification as malformed. */
function stringField(body: unknown, name: string): string {
  const v = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  if (typeof v !== 'string') throw new Error(`malformed GitHub answer: no string "${name}"`);
  return v;
}

/** Reduces a key to "type base64" (GitHub sends no comment, but be strict anyway). */
function keyLine(key: string): string | undefined {
  const [type, blob] = key.trim().split(/\s+/);
  return type && blob ? `${type} ${blob}` : undefined;
}

function freeze<T extends KnownRecord>(rec: T): T {
  if (rec.status === 'ok') {
    Object.freeze(rec.teams);
    Object.freeze(rec.pendingTeams);
    Object.freeze(rec.keys);
  }
  return Object.freeze(rec);
}
