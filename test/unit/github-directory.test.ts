import { test } from 'node:test';
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';
import { createLogger } from '../../src/log.js';
import { GitHubDirectory, type GitHubDirectoryOptions, type MemberRecord } from '../../src/github/directory.js';
import { decide } from '../../src/auth/decide.js';
import { FakeGitHub } from '../fakes/github.js';
import { newKeyLine } from '../support/fake-sessions.js';

const TOKEN = 'ghp_T0KEN_must_never_be_logged_123';
// newKeyLine draws again past ssh2's occasional malformed ed25519 key (see its comment).
const aliceKey = newKeyLine();
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });

/** A fake with: ops (parent) > sre (child), dev; Alice active in ops, Bob nobody, Carol pending, Dave in sre, Erin with 150 keys. */
async function world(): Promise<{ gh: FakeGitHub; apiUrl: string }> {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN });
  gh.addTeam('ops').addTeam('sre', { parent: 'ops' }).addTeam('dev');
  gh.addUser('Alice', { keys: [aliceKey] }).addMember('ops', 'alice');
  gh.addUser('Bob', { keys: ['ssh-ed25519 AAAAbob'] });
  gh.addUser('Carol', { keys: ['ssh-ed25519 AAAAcarol'] }).setPending('ops', 'carol');
  gh.addUser('Dave', { keys: ['ssh-ed25519 AAAAdave'] }).addMember('sre', 'dave');
  gh.addUser('Erin', { keys: Array.from({ length: 150 }, (_, i) => `ssh-ed25519 AAAAerin${i}`) }).addMember('dev', 'erin');
  return { gh, apiUrl: await gh.start() };
}

/** A directory on a settable clock: ttl 60 s, max stale 10 min, negative 30 s. */
function directory(apiUrl: string, over: Partial<GitHubDirectoryOptions> = {}): { dir: GitHubDirectory; clock: { t: number } } {
  const clock = { t: Date.now() };
  const dir = new GitHubDirectory({
    apiUrl, token: TOKEN, org: 'acme', teams: ['ops', 'dev'],
    cacheTtlMs: 60_000, maxStaleMs: 600_000, negativeTtlMs: 30_000, requestTimeoutMs: 500,
    userAgent: 'teamssh-test/0', logger, now: () => clock.t, ...over,
  });
  return { dir, clock };
}

function ok(rec: MemberRecord): Extract<MemberRecord, { status: 'ok' }> {
  assert.equal(rec.status, 'ok', JSON.stringify(rec));
  return rec as Extract<MemberRecord, { status: 'ok' }>;
}

const offered = (line: string) => {
  const k = ssh2.utils.parseKey(line);
  if (k instanceof Error) throw k;
  return { algo: k.type, data: k.getPublicSSH() };
};

test('an active member is admitted with canonical login, teams and keys', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir } = directory(apiUrl);
    const rec = ok(await dir.lookup('alice'));
    assert.equal(rec.login, 'Alice');
    assert.deepEqual(rec.teams, ['ops']);
    assert.deepEqual(rec.keys, [aliceKey]);
    assert.equal(rec.stale, false);
    assert.deepEqual(decide(rec, offered(aliceKey)), { kind: 'allow', login: 'Alice', teams: ['ops'], stale: false });
  } finally { await gh.stop(); }
});

test('non-member, pending invitation and unknown user are told apart; no keys fetched for non-members', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir } = directory(apiUrl);
    const bob = ok(await dir.lookup('bob'));
    assert.deepEqual([bob.teams, bob.pendingTeams], [[], []]);
    const carol = ok(await dir.lookup('carol'));
    assert.deepEqual([carol.teams, carol.pendingTeams], [[], ['ops']]);
    assert.equal(decide(carol, offered(aliceKey)).kind, 'deny');
    assert.deepEqual(await dir.lookup('mallory'), { status: 'no_such_user', login: 'mallory' });
    assert.deepEqual(await dir.lookup('../etc/passwd'), { status: 'no_such_user', login: '../etc/passwd' });
    assert.equal(gh.count('/keys'), 0);
  } finally { await gh.stop(); }
});

test('keys are paginated; child-team members count for the parent; logins are case-insensitive', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir } = directory(apiUrl);
    const erin = ok(await dir.lookup('erin'));
    assert.equal(erin.keys.length, 150);
    assert.equal(erin.keys[149], 'ssh-ed25519 AAAAerin149');
    assert.equal(gh.count('/users/Erin/keys'), 2);
    assert.deepEqual(ok(await dir.lookup('dave')).teams, ['ops']);
    assert.equal(ok(await dir.lookup('ALICE')).login, 'Alice');
    gh.resetLog();
    assert.equal(ok(await dir.lookup('aLiCe')).login, 'Alice');
    assert.equal(gh.total, 0, 'another spelling hits the same cache entry');
  } finally { await gh.stop(); }
});

test('a warm lookup makes zero requests; concurrent lookups share one fetch', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir } = directory(apiUrl);
    const recs = await Promise.all(Array.from({ length: 20 }, () => dir.lookup('alice')));
    assert.ok(recs.every((r) => r === recs[0]));
    assert.equal(gh.count('/users/alice'), 1);
    assert.equal(dir.stats().fetches, 1);
    gh.resetLog();
    for (let i = 0; i < 100; i++) await dir.lookup('alice');
    assert.equal(gh.total, 0);
    assert.equal(dir.stats().hits, 100);
  } finally { await gh.stop(); }
});

test('after the TTL the refresh is conditional and GitHub answers 304', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir, clock } = directory(apiUrl);
    const first = ok(await dir.lookup('erin'));
    gh.resetLog();
    const budget = gh.remaining;
    clock.t += 61_000;
    const again = ok(await dir.lookup('erin'));
    assert.equal(gh.total, 5, 'user, 2 memberships, 2 key pages');
    // Erin is only in dev: the ops membership is a 404, which has no ETag to replay.
    const conditional = gh.requests.filter((r) => r.status !== 404);
    assert.equal(conditional.length, 4);
    assert.ok(conditional.every((r) => r.ifNoneMatch !== undefined && r.status === 304), JSON.stringify(gh.requests));
    assert.equal(gh.remaining, budget - 1, 'only the 404 counts; 304s are free');
    assert.deepEqual(again.keys, first.keys);
    assert.equal(again.verifiedAt, clock.t);
    assert.equal(dir.stats().notModified, 4);
  } finally { await gh.stop(); }
});

test('a removed member keeps access until the TTL, then loses it; negative answers expire fast', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir, clock } = directory(apiUrl);
    ok(await dir.lookup('alice'));
    gh.removeMember('ops', 'alice');
    clock.t += 30_000;
    assert.deepEqual(ok(await dir.lookup('alice')).teams, ['ops'], 'still within TTL');
    clock.t += 31_000;
    const gone = ok(await dir.lookup('alice'));
    assert.deepEqual(gone.teams, []);
    assert.equal(decide(gone, offered(aliceKey)).kind, 'deny');
    // Now negative: cached negativeTtlMs only, so re-adding is seen 30 s later.
    gh.addMember('ops', 'alice');
    clock.t += 10_000;
    assert.deepEqual(ok(await dir.lookup('alice')).teams, []);
    clock.t += 21_000;
    assert.deepEqual(ok(await dir.lookup('alice')).teams, ['ops']);
  } finally { await gh.stop(); }
});

test('GitHub down: stale within maxStale, unavailable beyond it and on a cold cache', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir, clock } = directory(apiUrl);
    const fresh = ok(await dir.lookup('alice'));
    ok(await dir.lookup('bob'));
    gh.setDown(true);
    clock.t += 120_000;
    const stale = ok(await dir.lookup('alice'));
    assert.equal(stale.stale, true);
    assert.equal(stale.verifiedAt, fresh.verifiedAt);
    assert.deepEqual(decide(stale, offered(aliceKey)), { kind: 'allow', login: 'Alice', teams: ['ops'], stale: true });
    // A negative answer is never stretched into an outage answer.
    const bob = await dir.lookup('bob');
    assert.equal(bob.status, 'unavailable');
    clock.t += 600_000;
    const late = await dir.lookup('alice');
    assert.deepEqual([late.status, late.status === 'unavailable' && late.reason], ['unavailable', 'network']);
    const cold = await dir.lookup('dave');
    assert.deepEqual([cold.status, cold.status === 'unavailable' && cold.reason], ['unavailable', 'network']);
    assert.equal(decide(cold, offered(aliceKey)).kind, 'unavailable');
    gh.setDown(false);
    assert.equal(ok(await dir.lookup('alice')).stale, false, 'recovers when GitHub is back');
  } finally { await gh.stop(); }
});

test('rate limit (403 and 429), 5xx, timeouts and a bad token are unavailable, quickly', async () => {
  const { gh, apiUrl } = await world();
  try {
    const cases: [string, () => void, string][] = [
      ['403 limit', () => gh.exhaustRateLimit(true, 403), 'rate_limited'],
      ['429 limit', () => gh.exhaustRateLimit(true, 429), 'rate_limited'],
      ['502', () => { gh.exhaustRateLimit(false); gh.serverError = 502; }, 'server_error'],
      ['slow', () => { gh.serverError = null; gh.delayMs = 2_000; }, 'timeout'],
      ['bad token', () => { gh.delayMs = 0; gh.token = 'rotated'; }, 'unauthorized'],
    ];
    for (const [name, arrange, reason] of cases) {
      arrange();
      gh.resetLog();
      const logFrom = logLines.length;
      const { dir } = directory(apiUrl);
      const started = Date.now();
      const rec = await dir.lookup('alice');
      const took = Date.now() - started;
      assert.equal(rec.status, 'unavailable', name);
      assert.equal(rec.status === 'unavailable' && rec.reason, reason, name);
      assert.ok(took < 3_000, `${name} took ${took} ms`);
      assert.equal(decide(rec, offered(aliceKey)).kind, 'unavailable', name);
      if (name === '502') assert.equal(gh.count('/users/alice'), 3, '5xx is retried twice, then given up');
      if (name.includes('limit')) assert.equal(gh.count('/users/alice'), 1, 'a rate limit is not retried');
      // The operator is told why (src/github/client.ts).
      if (name.includes('limit')) assert.ok(logLines.slice(logFrom).some((l) => l.includes('GitHub rate limit exhausted; not waiting for the reset')), name);
    }
  } finally { await gh.stop(); }
});

test('a lookup never outlives its deadline, even when single requests may take longer', async () => {
  const { gh, apiUrl } = await world();
  try {
    gh.delayMs = 2_000;
    const { dir } = directory(apiUrl, { requestTimeoutMs: 5_000, lookupDeadlineMs: 300 });
    const started = Date.now();
    const rec = await dir.lookup('alice');
    assert.equal(rec.status === 'unavailable' && rec.reason, 'timeout');
    assert.ok(Date.now() - started < 1_000);
  } finally { await gh.stop(); }
});

test('the fake follows docs/external-systems.md §1 (auth, rate-limit headers, 304, team members with child teams)', async () => {
  const { gh, apiUrl } = await world();
  try {
    gh.addUser('Finn').addMember('sre', 'finn', 'pending');
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(apiUrl + path, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } });
    const bad = await fetch(`${apiUrl}/users/alice`, { headers: { authorization: 'token nope' } });
    assert.equal(bad.status, 401);
    assert.deepEqual((await bad.json() as { message: string }).message, 'Bad credentials');
    assert.equal((await fetch(`${apiUrl}/users/ALICE`, { headers: { authorization: `token ${TOKEN}` } })).status, 200);
    const first = await get('/orgs/acme/teams/ops/members?per_page=1');
    assert.deepEqual(await first.json(), [{ login: 'Alice', id: (await (await get('/users/alice')).json() as { id: number }).id, type: 'User' }]);
    assert.match(first.headers.get('link') ?? '', /page=2>; rel="next"/);
    const all = await (await get('/orgs/acme/teams/ops/members?per_page=100')).json() as { login: string }[];
    assert.deepEqual(all.map((u) => u.login), ['Alice', 'Dave'], 'child-team members count, pending ones do not');
    assert.equal((await (await get('/orgs/acme/teams/ops/memberships/dave')).json() as { state: string }).state, 'active');
    assert.equal((await (await get('/orgs/acme/teams/ops/memberships/finn')).json() as { state: string }).state, 'pending');
    const missing = await get('/orgs/acme/teams/dev/memberships/alice');
    assert.equal(missing.status, 404);
    assert.ok(missing.headers.get('x-ratelimit-remaining'));
    const ok200 = await get('/users/alice');
    await ok200.arrayBuffer();
    const left = Number(ok200.headers.get('x-ratelimit-remaining'));
    const nm = await get('/users/alice', { 'if-none-match': ok200.headers.get('etag') ?? '' });
    assert.equal(nm.status, 304);
    assert.equal((await nm.arrayBuffer()).byteLength, 0);
    assert.equal(Number(nm.headers.get('x-ratelimit-remaining')), left, 'a 304 is free');
    await (await get('/rate_limit')).arrayBuffer();
    assert.equal(gh.remaining, left, '/rate_limit is free');
    gh.exhaustRateLimit(true, 429);
    const limited = await get('/users/bob');
    assert.deepEqual([limited.status, limited.headers.get('x-ratelimit-remaining'), limited.headers.get('retry-after')], [429, '0', '60']);
  } finally { await gh.stop(); }
});

test('invalidate and refresh re-ask GitHub conditionally: 304 for what did not change, 200 for what did', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir } = directory(apiUrl);
    ok(await dir.lookup('alice'));
    assert.equal(dir.invalidate('nobody-cached'), false);
    assert.equal(dir.invalidate('ALICE'), true);
    gh.resetLog();
    ok(await dir.lookup('alice'));
    // The dev membership is a 404, which carries no ETag to replay; everything else is a 304.
    assert.ok(gh.total === 4 && gh.requests.every((r) => r.status === (r.path.includes('/dev/') ? 404 : 304)), JSON.stringify(gh.requests));
    gh.addKey('alice', 'ssh-ed25519 AAAAnewkey');
    gh.resetLog();
    const rec = ok(await dir.refresh('alice'));
    assert.equal(rec.keys.length, 2);
    assert.deepEqual(gh.requests.map((r) => [r.path, r.status]).sort(), [
      ['/orgs/acme/teams/dev/memberships/alice', 404], ['/orgs/acme/teams/ops/memberships/alice', 304], ['/users/Alice/keys', 200], ['/users/alice', 304],
    ]);
    // Concurrent refreshes of one login share one round trip.
    gh.resetLog();
    await Promise.all([dir.refresh('alice'), dir.refresh('Alice'), dir.refresh('alice')]);
    assert.equal(gh.count('/users/alice'), 1);
  } finally { await gh.stop(); }
});

test('cachedMembers lists the logins cached as members of a team, pending ones included', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir } = directory(apiUrl);
    for (const l of ['alice', 'bob', 'carol', 'dave', 'erin']) await dir.lookup(l);
    assert.deepEqual(dir.cachedMembers('ops').sort(), ['alice', 'carol', 'dave']);
    assert.deepEqual(dir.cachedMembers('DEV'), ['erin']);
    assert.deepEqual(dir.cachedMembers().sort(), ['alice', 'carol', 'dave', 'erin']);
  } finally { await gh.stop(); }
});

test('prime seeds the cache without any request', async () => {
  const { gh, apiUrl } = await world();
  try {
    const { dir, clock } = directory(apiUrl);
    dir.prime({ status: 'ok', login: 'Zed', teams: ['ops'], pendingTeams: [], keys: [aliceKey], verifiedAt: clock.t, stale: false });
    assert.equal(ok(await dir.lookup('zed')).login, 'Zed');
    assert.equal(gh.total, 0);
  } finally { await gh.stop(); }
});

test('the token never appears in the log output', () => {
  assert.ok(logLines.length > 0, 'the tests above logged something');
  assert.ok(logLines.some((l) => l.includes('"reason":"unauthorized"')));
  for (const line of logLines) assert.ok(!line.includes(TOKEN), line);
});
