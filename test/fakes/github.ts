import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WebhookSender } from './github-webhooks.js';
import type { FakeGitHubApp } from './github-app.js';

/**
 * A fake GitHub REST API on real node:http (127.0.0.1, port 0) that follows
 * docs/external-systems.md §1: auth, ETag/304, rate-limit headers, pagination, teams with parents,
 * memberships with active/pending state, case-insensitive logins. Use it as:
 *
 *   const gh = new FakeGitHub({ org: 'acme', token: 't0ken' });
 *   gh.addTeam('ops').addTeam('sre', { parent: 'ops' });
 *   gh.addUser('Alice', { keys: ['ssh-ed25519 AAAA...'] }).addMember('sre', 'alice');
 *   const apiUrl = await gh.start(); ... await gh.stop();
 */
export interface FakeGitHubOptions {
  org: string;
  /** The one token accepted (as `Bearer X` or `token X`). */
  token: string;
  /** `x-oauth-scopes` sent on every answer (classic token); null sends none (fine-grained). Default "read:org". */
  scopes?: string | null;
  /** Login owning the token, answered by GET /user. Default "teamssh-bot". */
  tokenOwner?: string;
  /** Requests per window. Default 5000. */
  rateLimit?: number;
  /** Behave as GitHub Enterprise Server of this version: served under `/api/v3`, rate limiting off (GHES's default). */
  enterprise?: { version: string };
}

/** One request seen by the fake. */
export interface FakeRequest {
  method: string;
  path: string;
  query: string;
  status: number;
  /** The If-None-Match header sent, if any. */
  ifNoneMatch?: string | undefined;
}

type State = 'active' | 'pending';
type Role = 'member' | 'maintainer';
interface Team { id: number; slug: string; name: string; parent?: string | undefined; members: Map<string, { state: State; role: Role }> }
interface User { id: number; login: string; keys: { id: number; key: string }[] }

/** The fake server; every mutator returns `this` so setups chain. */
export class FakeGitHub {
  readonly org: string;
  /** Accepted token; change it to simulate a revoked token. */
  token: string;
  scopes: string | null;
  tokenOwner: string;
  rateLimit: number;
  /** Requests left in the window; 0 makes every counted request fail as rate-limited. */
  remaining: number;
  /** Status used when the limit is exhausted: 403 (primary) or 429 (with retry-after). */
  rateLimitStatus: 403 | 429 = 403;
  /** When set, every request is answered with this 5xx status. */
  serverError: number | null = null;
  /** When true, every connection (open or new) is destroyed without an answer. */
  down = false;
  /** Delay before answering, in ms. */
  delayMs = 0;
  /** Every request, in arrival order (no credentials recorded). */
  readonly requests: FakeRequest[] = [];
  /** The org webhook, once `hook()` set one: membership changes are then delivered like GitHub does. */
  webhooks: WebhookSender | undefined;
  /** Logins the org blocks (GET /orgs/{org}/blocks/{u} answers 204 for them, given `admin:org`). */
  readonly blocked = new Set<string>();
  /** The GitHub App installed on the org, once `installApp()` mounted one. */
  app: FakeGitHubApp | undefined;
  readonly enterprise: { version: string } | undefined;

  #teams = new Map<string, Team>();
  #users = new Map<string, User>();
  #nextId = 1000;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #baseUrl = '';
  readonly #resetAt = Math.floor(Date.now() / 1000) + 3600;

  constructor(opts: FakeGitHubOptions) {
    this.org = opts.org;
    this.token = opts.token;
    this.scopes = opts.scopes === undefined ? 'read:org' : opts.scopes;
    this.tokenOwner = opts.tokenOwner ?? 'teamssh-bot';
    this.rateLimit = opts.rateLimit ?? 5000;
    this.remaining = this.rateLimit;
    this.enterprise = opts.enterprise;
  }

  /** Serves `app`'s routes and accepts its installation tokens besides `token`. */
  installApp(app: FakeGitHubApp): this {
    this.app = app;
    return this;
  }

  /** Adds a team (its slug is its name); `parent` must exist already. */
  addTeam(slug: string, opts: { parent?: string; name?: string } = {}): this {
    if (opts.parent && !this.#teams.has(opts.parent)) throw new Error(`no parent team ${opts.parent}`);
    this.#teams.set(slug, { id: this.#nextId++, slug, name: opts.name ?? slug, parent: opts.parent, members: new Map() });
    return this;
  }

  /** Adds a user with its canonical login spelling and verified SSH keys ("type base64"). */
  addUser(login: string, opts: { keys?: string[] } = {}): this {
    const user: User = { id: this.#nextId++, login, keys: [] };
    this.#users.set(login.toLowerCase(), user);
    for (const key of opts.keys ?? []) this.addKey(login, key);
    return this;
  }

  /** Makes `login` a direct member of `team` (active by default); an active one fires `membership.added`. */
  addMember(team: string, login: string, state: State = 'active', role: Role = 'member'): this {
    const t = this.#team(team);
    const user = this.#user(login);
    t.members.set(user.login.toLowerCase(), { state, role });
    // A pending invitation is not a membership yet: GitHub fires membership.added on acceptance.
    if (state === 'active') this.#emit('membership', { action: 'added', scope: 'team', member: this.#userJson(user), team: this.#teamJson(t) });
    return this;
  }

  /** Removes the direct membership of `login` in `team`, firing `membership.removed`. */
  removeMember(team: string, login: string): this {
    const t = this.#team(team);
    const had = t.members.delete(login.toLowerCase());
    if (had) this.#emit('membership', { action: 'removed', scope: 'team', member: this.#userJson(this.#user(login)), team: this.#teamJson(t) });
    return this;
  }

  /** Removes `login` from the org (every team), firing `organization.member_removed`. */
  removeFromOrg(login: string): this {
    const user = this.#user(login);
    for (const t of this.#teams.values()) t.members.delete(user.login.toLowerCase());
    this.#emit('organization', { action: 'member_removed', membership: this.#orgMembershipJson(user) });
    return this;
  }

  /**
   * Deletes a team and, as GitHub does, its child teams; fires `team.deleted` for the named
   * team. Its members lose what it granted.
   */
  deleteTeam(slug: string): this {
    const t = this.#team(slug);
    const json = this.#teamJson(t);
    const doomed = [t.slug];
    for (let i = 0; i < doomed.length; i++) for (const c of this.#teams.values()) if (c.parent === doomed[i]) doomed.push(c.slug);
    for (const d of doomed) this.#teams.delete(d);
    this.#emit('team', { action: 'deleted', team: json });
    return this;
  }

  /**
   * Blocks `login` from the org, firing `org_block.blocked`. Like GitHub, an org member cannot
   * be blocked (it answers 422: remove the member first).
   */
  blockUser(login: string): this {
    const user = this.#user(login);
    if ([...this.#teams.values()].some((t) => t.members.has(user.login.toLowerCase()))) throw new Error(`422: ${login} is an org member; remove them first`);
    this.blocked.add(user.login.toLowerCase());
    this.#emit('org_block', { action: 'blocked', blocked_user: this.#userJson(user) });
    return this;
  }

  /** Points the org webhook at `url` with `secret`; returns the sender (for forged and replayed deliveries). */
  hook(url: string, secret: string): WebhookSender {
    this.webhooks = new WebhookSender(url, secret);
    return this.webhooks;
  }

  /** Sends `event` with GitHub's common fields (organization, sender) added to `payload`. */
  #emit(event: string, payload: Record<string, unknown>): void {
    void this.webhooks?.send(event, { ...payload, organization: { login: this.org, id: 1, node_id: 'O_fake', url: `${this.#baseUrl}/orgs/${this.org}` }, sender: { login: 'octo-admin', id: 2, type: 'User', site_admin: false } });
  }

  /** A webhook payload for `event` as GitHub shapes it, for tests that send deliveries by hand. */
  payload(event: 'membership' | 'organization' | 'team' | 'org_block', action: string, who: { login?: string; team?: string }): Record<string, unknown> {
    const base = { action, organization: { login: this.org, id: 1 }, sender: { login: 'octo-admin', id: 2, type: 'User' } };
    const user = who.login ? this.#users.get(who.login.toLowerCase()) ?? { id: 999_999, login: who.login, keys: [] } : undefined;
    const team = who.team ? this.#teams.get(who.team) ?? { id: 999_998, slug: who.team, name: who.team, members: new Map() } : undefined;
    switch (event) {
      case 'membership': return { ...base, scope: 'team', member: user && this.#userJson(user), team: team && this.#teamJson(team) };
      case 'organization': return { ...base, membership: user && this.#orgMembershipJson(user) };
      case 'team': return { ...base, team: team && this.#teamJson(team) };
      case 'org_block': return { ...base, blocked_user: user && this.#userJson(user) };
    }
  }

  /** Turns the membership into a pending invitation (creating it if needed). */
  setPending(team: string, login: string): this {
    return this.addMember(team, login, 'pending');
  }

  /** Adds a verified SSH key to the user. */
  addKey(login: string, key: string): this {
    this.#user(login).keys.push({ id: this.#nextId++, key });
    return this;
  }

  /** Deletes a key (matched by its "type base64" text). */
  removeKey(login: string, key: string): this {
    const user = this.#user(login);
    user.keys = user.keys.filter((k) => k.key !== key);
    return this;
  }

  /** Number of requests answered (304s included). */
  get total(): number {
    return this.requests.length;
  }

  /** Number of 304 Not Modified answers. */
  get notModified(): number {
    return this.requests.filter((r) => r.status === 304).length;
  }

  /** Requests per path (query excluded). */
  byPath(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.requests) m.set(r.path, (m.get(r.path) ?? 0) + 1);
    return m;
  }

  /** Requests whose path contains `fragment`. */
  count(fragment: string): number {
    return this.requests.filter((r) => r.path.includes(fragment)).length;
  }

  /** Forgets the request log. */
  resetLog(): this {
    this.requests.length = 0;
    return this;
  }

  /** Sets the limit to exhausted (remaining 0) with the given status, or restores it. */
  exhaustRateLimit(exhausted = true, status: 403 | 429 = 403): this {
    this.remaining = exhausted ? 0 : this.rateLimit;
    this.rateLimitStatus = status;
    return this;
  }

  /** Listens on 127.0.0.1 and returns the base URL (use as apiUrl). */
  async start(): Promise<string> {
    const server = createServer((req, res) => this.#handle(req, res));
    server.on('connection', (s: Socket) => {
      if (this.down) return void s.destroy();
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    this.#server = server;
    this.#baseUrl = `http://127.0.0.1:${addr.port}${this.enterprise ? '/api/v3' : ''}`;
    return this.#baseUrl;
  }

  /** Goes down (true) or comes back (false); going down destroys every open connection. */
  setDown(down: boolean): this {
    this.down = down;
    if (down) for (const s of this.#sockets) s.destroy();
    return this;
  }

  /** Closes the server and every connection. */
  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #team(slug: string): Team {
    const t = this.#teams.get(slug);
    if (!t) throw new Error(`no team ${slug}`);
    return t;
  }

  #user(login: string): User {
    const u = this.#users.get(login.toLowerCase());
    if (!u) throw new Error(`no user ${login}`);
    return u;
  }

  /** Membership in `team` or any descendant team; active wins over pending. */
  #membership(team: Team, login: string): { state: State; role: Role } | undefined {
    let found = team.members.get(login);
    for (const child of this.#teams.values()) {
      if (child.parent !== team.slug) continue;
      const m = this.#membership(child, login);
      if (m && (!found || (found.state === 'pending' && m.state === 'active'))) found = m;
    }
    return found;
  }

  #userJson(u: User): object {
    return { login: u.login, id: u.id, node_id: `U_${u.id}`, type: 'User', site_admin: false, url: `${this.#baseUrl}/users/${u.login}` };
  }

  #orgMembershipJson(u: User): object {
    return { url: `${this.#baseUrl}/orgs/${this.org}/memberships/${u.login}`, state: 'active', role: 'member', organization_url: `${this.#baseUrl}/orgs/${this.org}`, user: this.#userJson(u) };
  }

  #teamJson(t: Team): object {
    const parent = t.parent ? this.#teams.get(t.parent) : undefined;
    return { id: t.id, slug: t.slug, name: t.name, privacy: 'closed', parent: parent ? { id: parent.id, slug: parent.slug, name: parent.name } : null };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.down) return void req.socket.destroy();
    const answer = (): void => this.#answer(req, res);
    if (this.delayMs > 0) setTimeout(answer, this.delayMs);
    else answer();
  }

  #answer(req: IncomingMessage, res: ServerResponse): void {
    if (res.destroyed || req.socket.destroyed) return;
    const url = new URL(req.url ?? '/', this.#baseUrl);
    // GHES serves the REST API under /api/v3; the rest of this fake sees the path below it.
    const prefix = this.enterprise ? '/api/v3' : '';
    const path = url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : `/not-under${url.pathname}`;
    const inm = req.headers['if-none-match'];
    const auth = req.headers.authorization ?? '';
    // Installation tokens carry no OAuth scopes.
    const viaApp = this.app?.tokenState(auth) === 'valid';
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      this.requests.push({ method: req.method ?? 'GET', path, query: url.search, status, ifNoneMatch: inm });
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        ...(this.enterprise
          ? { 'x-github-enterprise-version': this.enterprise.version }
          : {
              'x-ratelimit-limit': String(this.rateLimit),
              'x-ratelimit-remaining': String(this.remaining),
              'x-ratelimit-reset': String(this.#resetAt),
              'x-ratelimit-used': String(this.rateLimit - this.remaining),
            }),
        ...(this.scopes !== null && !viaApp ? { 'x-oauth-scopes': this.scopes, 'x-accepted-oauth-scopes': '' } : {}),
        ...headers,
      });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (this.serverError !== null) return send(this.serverError, { message: 'Server Error' });
    const appAnswer = this.app?.answer(req.method ?? 'GET', path, auth, this.org);
    if (appAnswer) return send(appAnswer.status, appAnswer.body);
    if (!viaApp && auth !== `Bearer ${this.token}` && auth !== `token ${this.token}`) {
      return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    }
    const refused = viaApp ? this.app?.forbidden(path) : undefined;
    if (refused) return send(refused.status, refused.body);
    if (path === '/rate_limit' && this.enterprise) return send(404, { message: 'Rate limiting is not enabled.', documentation_url: 'https://docs.github.com/enterprise-server/rest' });
    const isRateLimit = path === '/rate_limit';
    if (!isRateLimit && this.remaining <= 0) {
      const extra: Record<string, string> = this.rateLimitStatus === 429 ? { 'retry-after': '60' } : {};
      return send(this.rateLimitStatus, { message: 'API rate limit exceeded for user ID 1.' }, extra);
    }
    const found = this.#route(req.method ?? 'GET', path, url);
    const etag = found && `W/"${createHash('sha1').update(`${path}${url.search}\n${JSON.stringify(found.body)}`).digest('hex')}"`;
    // A 304 is free; every other answer (404s included) counts, except GET /rate_limit.
    if (etag && inm === etag) return send(304, undefined, { etag });
    if (!isRateLimit) this.remaining -= 1;
    if (!found || !etag) return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    if (found.status === 204) return send(204, undefined);
    send(200, found.body, { etag, ...(found.link ? { link: found.link } : {}) });
  }

  /** The body (and Link header) for a GET, or undefined for 404. */
  #route(method: string, path: string, url: URL): { body: unknown; link?: string; status?: number } | undefined {
    if (method !== 'GET') return undefined;
    const seg = path.split('/').slice(1).map(decodeURIComponent);
    const orgOk = seg[0] === 'orgs' && seg[1]?.toLowerCase() === this.org.toLowerCase();
    if (path === '/user') return { body: { login: this.tokenOwner, id: 1, type: 'User' } };
    if (path === '/rate_limit') {
      const core = { limit: this.rateLimit, remaining: this.remaining, reset: this.#resetAt, used: this.rateLimit - this.remaining };
      return { body: { resources: { core }, rate: core } };
    }
    if (orgOk && seg.length === 2) return { body: { login: this.org, id: 1 } };
    if (orgOk && seg[2] === 'blocks' && seg.length === 4) {
      // GitHub answers 404 to any blocking call without admin:org, blocked or not.
      const admin = (this.scopes ?? '').split(',').map((x) => x.trim()).includes('admin:org');
      return admin && this.blocked.has((seg[3] ?? '').toLowerCase()) ? { body: undefined, status: 204 } : undefined;
    }
    if (orgOk && seg[2] === 'teams') {
      if (seg.length === 3) return this.#page(url, [...this.#teams.values()].map((t) => this.#teamJson(t)));
      const team = this.#teams.get(seg[3] ?? '');
      if (!team) return undefined;
      if (seg.length === 4) return { body: this.#teamJson(team) };
      if (seg.length === 5 && seg[4] === 'members') {
        const members = [...this.#users.values()].filter((u) => this.#membership(team, u.login.toLowerCase())?.state === 'active');
        return this.#page(url, members.map((u) => ({ login: u.login, id: u.id, type: 'User' })));
      }
      if (seg.length === 6 && seg[4] === 'memberships') {
        const m = this.#membership(team, (seg[5] ?? '').toLowerCase());
        const user = this.#users.get((seg[5] ?? '').toLowerCase());
        if (!m || !user) return undefined;
        return { body: { url: `${this.#baseUrl}/organizations/1/team/${team.id}/memberships/${user.login}`, role: m.role, state: m.state } };
      }
      return undefined;
    }
    if (seg[0] === 'users' && seg.length >= 2) {
      const user = this.#users.get((seg[1] ?? '').toLowerCase());
      if (!user) return undefined;
      if (seg.length === 2) return { body: { login: user.login, id: user.id, type: 'User' } };
      if (seg.length === 3 && seg[2] === 'keys') return this.#page(url, user.keys.map((k) => ({ id: k.id, key: k.key })));
    }
    return undefined;
  }

  /** One page of `items` per `per_page` (default 30, max 100) and `page`, with a Link header. */
  #page(url: URL, items: unknown[]): { body: unknown; link?: string } {
    const perPage = Math.min(Math.max(Number(url.searchParams.get('per_page')) || 30, 1), 100);
    const page = Math.max(Number(url.searchParams.get('page')) || 1, 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const at = (n: number): string => {
      const u = new URL(url.href);
      u.searchParams.set('per_page', String(perPage));
      u.searchParams.set('page', String(n));
      return u.href;
    };
    const links: string[] = [];
    if (page < last) links.push(`<${at(page + 1)}>; rel="next"`, `<${at(last)}>; rel="last"`);
    if (page > 1) links.push(`<${at(1)}>; rel="first"`, `<${at(page - 1)}>; rel="prev"`);
    return { body: items.slice((page - 1) * perPage, page * perPage), ...(links.length ? { link: links.join(', ') } : {}) };
  }
}
