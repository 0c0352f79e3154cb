import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GitHubDirectory } from '../../src/github/directory.js';
import { startHttpListener, type HttpListener } from '../../src/http/listener.js';
import { startRevocation, type RunningRevocation } from '../../src/revocation/start.js';
import { WEBHOOK_PATH } from '../../src/revocation/webhook-route.js';
import { FakeGitHub } from '../fakes/github.js';
import { sign, type WebhookSender } from '../fakes/github-webhooks.js';
import { captureLog } from '../support/log-capture.js';
import { FakeSessions, newKeyLine } from '../support/fake-sessions.js';

const TOKEN = 'ghp_webhook_test_T0KEN_never_logged';
const SECRET = 'whsec_never_in_any_log_4711';

/**
 * The world: org acme, configured teams ops and dev, sre a child team of ops.
 * Alice (ops, two keys), Bob (dev), Dave (sre, so ops), Carol (no team), Erin (ops).
 */
interface World {
  gh: FakeGitHub;
  hook: WebhookSender;
  dir: GitHubDirectory;
  sessions: FakeSessions;
  rev: RunningRevocation;
  http: HttpListener;
  log: ReturnType<typeof captureLog>;
  keys: Record<'alice1' | 'alice2' | 'bob' | 'dave' | 'carol' | 'erin', string>;
  stop(): Promise<void>;
}

async function world(opts: { scopes?: string; secret?: string | undefined } = {}): Promise<World> {
  const keys = { alice1: newKeyLine(), alice2: newKeyLine(), bob: newKeyLine(), dave: newKeyLine(), carol: newKeyLine(), erin: newKeyLine() };
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN, scopes: opts.scopes ?? 'read:org' });
  gh.addTeam('ops').addTeam('sre', { parent: 'ops' }).addTeam('dev');
  gh.addUser('Alice', { keys: [keys.alice1, keys.alice2] }).addMember('ops', 'alice');
  gh.addUser('Bob', { keys: [keys.bob] }).addMember('dev', 'bob');
  gh.addUser('Dave', { keys: [keys.dave] }).addMember('sre', 'dave');
  gh.addUser('Carol', { keys: [keys.carol] });
  gh.addUser('Erin', { keys: [keys.erin] }).addMember('ops', 'erin');
  const apiUrl = await gh.start();
  const log = captureLog();
  const dir = new GitHubDirectory({
    apiUrl, token: TOKEN, org: 'acme', teams: ['ops', 'dev'],
    cacheTtlMs: 300_000, maxStaleMs: 3_600_000, negativeTtlMs: 30_000, requestTimeoutMs: 2_000,
    userAgent: 'teamssh-test/0', logger: log.logger.child({ component: 'github' }),
  });
  const sessions = new FakeSessions();
  const secret = 'secret' in opts ? opts.secret : SECRET;
  const rev = startRevocation({
    org: 'acme', teams: ['ops', 'dev'], webhookSecret: secret, revalidateIntervalMs: 0, maxStaleMs: 3_600_000,
    directory: dir, sessions, logger: log.logger.child({ component: 'revocation' }),
  });
  const http = await startHttpListener({ host: '127.0.0.1', port: 0 }, rev.routes, log.logger.child({ component: 'http' }));
  const hook = gh.hook(`http://127.0.0.1:${http.address.port}${WEBHOOK_PATH}`, SECRET);
  // Logins as the SSH side would have done them: each answer is now cached.
  for (const l of ['alice', 'bob', 'dave', 'carol', 'erin']) await dir.lookup(l);
  gh.resetLog();
  return {
    gh, hook, dir, sessions, rev, http, log, keys,
    stop: async () => {
      await rev.stop();
      await http.close();
      await gh.stop();
      // Whatever happened, the secret and the token never reached the log.
      assert.ok(!log.text().includes(SECRET), 'webhook secret logged');
      assert.ok(!log.text().includes(TOKEN), 'token logged');
    },
  };
}

const revoked = (log: ReturnType<typeof captureLog>) => log.lines.filter((l) => l.event === 'session_revoked');

test('membership.removed: GitHub confirms, both of the login\'s sessions end within 1 s, the next login is refused at once', async () => {
  const w = await world();
  try {
    const a1 = w.sessions.add('Alice', w.keys.alice1, 'ops');
    const a2 = w.sessions.add('Alice', w.keys.alice2, 'ops');
    const bob = w.sessions.add('Bob', w.keys.bob, 'dev');
    w.gh.removeMember('ops', 'alice');
    const [delivery] = await w.hook.settled();
    assert.equal(delivery?.status, 202);
    assert.deepEqual(JSON.parse(delivery.answer), { status: 'accepted' });
    await w.sessions.until(() => a1.revoked !== undefined && a2.revoked !== undefined, 1_000);
    assert.ok(a2.revokedAt! - delivery.sentAt < 1_000, `took ${a2.revokedAt! - delivery.sentAt} ms`);
    for (const s of [a1, a2]) {
      assert.deepEqual(s.revoked, { reason: 'not_member', trigger: 'webhook', deliveryId: delivery.id, message: 'access revoked: no longer a member of acme/ops' });
    }
    assert.equal(bob.revoked, undefined);
    assert.ok(w.gh.count('/orgs/acme/teams/ops/memberships/alice') >= 1, 'the verdict came from the API');
    const events = revoked(w.log);
    assert.equal(events.length, 2);
    assert.deepEqual(
      events.map((e) => [e.sessionId, e.login, e.fingerprint, e.reason, e.trigger, e.deliveryId]).sort(),
      [a1, a2].map((s) => [s.id, 'Alice', s.fingerprint, 'not_member', 'webhook', delivery.id]).sort(),
    );
    // The check refreshed the cache: a login right now is refused without waiting for the TTL.
    const now = await w.dir.lookup('alice');
    assert.deepEqual(now.status === 'ok' && now.teams, []);
  } finally { await w.stop(); }
});

test('a forged or missing signature is 401, logged with delivery id and address, and changes nothing', async () => {
  const w = await world();
  try {
    const alice = w.sessions.add('Alice', w.keys.alice1, 'ops');
    // Alice really leaves, but the genuine delivery is lost: only forgeries arrive.
    const hook = w.gh.webhooks!;
    w.gh.webhooks = undefined;
    w.gh.removeMember('ops', 'alice');
    const before = w.dir.stats().invalidations;
    const payload = w.gh.payload('membership', 'removed', { login: 'alice', team: 'ops' });
    const body = JSON.stringify(payload);
    const forged = await hook.send('membership', payload, { secret: 'guessed-secret', id: 'forged-1' });
    const unsigned = await hook.send('membership', payload, { signature: null, id: 'unsigned-1' });
    const tampered = await hook.send('membership', payload, { rawBody: body.replace('"removed"', '"removed" '), signature: sign(SECRET, body), id: 'tampered-1' });
    for (const d of [forged, unsigned, tampered]) {
      assert.equal(d.status, 401, d.answer);
      assert.equal((JSON.parse(d.answer) as { error: { code: string } }).error.code, 'ERR_WEBHOOK_SIGNATURE');
    }
    const refusals = w.log.lines.filter((l) => l.event === 'webhook_refused');
    assert.deepEqual(refusals.map((r) => [r.deliveryId, r.reason, r.remoteAddress]), [
      ['forged-1', 'bad_signature', '127.0.0.1'], ['unsigned-1', 'missing_signature', '127.0.0.1'], ['tampered-1', 'bad_signature', '127.0.0.1'],
    ]);
    await w.rev.revoker.idle();
    assert.equal(w.gh.total, 0, 'GitHub was asked nothing');
    assert.equal(w.dir.stats().invalidations, before, 'no cached answer was touched');
    assert.equal(alice.revoked, undefined);
    // The same body signed with the right secret is genuine, and does its work.
    assert.equal((await hook.send('membership', payload)).status, 202);
    await w.sessions.until(() => alice.revoked !== undefined, 1_000);
  } finally { await w.stop(); }
});

test('a forged delivery cannot pre-claim a genuine delivery id; a replayed id is acknowledged and ignored', async () => {
  const w = await world();
  try {
    const bob = w.sessions.add('Bob', w.keys.bob, 'dev');
    const id = '72d3162e-cc78-11e3-81ab-4c9367dc0958';
    const payload = w.gh.payload('membership', 'removed', { login: 'bob', team: 'dev' });
    assert.equal((await w.hook.send('membership', payload, { id, secret: 'wrong' })).status, 401);
    w.gh.webhooks = undefined;
    w.gh.removeMember('dev', 'bob');
    const genuine = await w.hook.send('membership', payload, { id });
    assert.deepEqual([genuine.status, JSON.parse(genuine.answer)], [202, { status: 'accepted' }]);
    await w.sessions.until(() => bob.revoked !== undefined, 1_000);
    await w.rev.revoker.idle();
    w.gh.resetLog();
    const replay = await w.hook.redeliver(id);
    assert.deepEqual([replay.status, JSON.parse(replay.answer)], [202, { status: 'duplicate' }]);
    await w.rev.revoker.idle();
    assert.equal(w.gh.total, 0, 'a replay asks GitHub nothing');
    assert.equal(w.log.lines.filter((l) => l.event === 'webhook_duplicate' && l.deliveryId === id).length, 1);
  } finally { await w.stop(); }
});

test('a genuine "removed" for someone still a member revokes nothing: the API answer decides', async () => {
  const w = await world();
  try {
    const erin = w.sessions.add('Erin', w.keys.erin, 'ops');
    const d = await w.hook.send('membership', w.gh.payload('membership', 'removed', { login: 'erin', team: 'ops' }));
    assert.equal(d.status, 202);
    await w.rev.revoker.idle();
    assert.ok(w.gh.count('/users/erin') + w.gh.count('/users/Erin') >= 1, 'GitHub was re-asked');
    assert.equal(erin.revoked, undefined);
    assert.equal(revoked(w.log).length, 0);
  } finally { await w.stop(); }
});

test('child-team removal, org removal and deleted teams end exactly the sessions they granted', async () => {
  const w = await world();
  try {
    const dave = w.sessions.add('Dave', w.keys.dave, 'ops');
    const bob = w.sessions.add('Bob', w.keys.bob, 'dev');
    const alice = w.sessions.add('Alice', w.keys.alice1, 'ops');
    const erin = w.sessions.add('Erin', w.keys.erin, 'ops');
    w.gh.removeMember('sre', 'dave'); // membership.removed names the child team sre
    await w.sessions.until(() => dave.revoked !== undefined, 1_000);
    assert.equal(dave.revoked?.reason, 'not_member');
    w.gh.removeFromOrg('erin');
    await w.sessions.until(() => erin.revoked !== undefined, 1_000);
    assert.deepEqual([erin.revoked?.reason, erin.revoked?.message], ['not_member', 'access revoked: no longer a member of acme/ops']);
    w.gh.deleteTeam('dev'); // a configured team
    await w.sessions.until(() => bob.revoked !== undefined, 1_000);
    assert.equal(bob.revoked?.reason, 'not_member');
    await w.rev.revoker.idle();
    assert.equal(alice.revoked, undefined, 'no other session was touched');
    assert.deepEqual(w.hook.deliveries.map((d) => [d.event, d.action, d.status]), [
      ['membership', 'removed', 202], ['organization', 'member_removed', 202], ['team', 'deleted', 202],
    ]);
  } finally { await w.stop(); }
});

test('deleting a child team re-checks the live logins and ends only those it granted', async () => {
  const w = await world();
  try {
    const dave = w.sessions.add('Dave', w.keys.dave, 'ops');
    const alice = w.sessions.add('Alice', w.keys.alice1, 'ops');
    w.gh.deleteTeam('sre');
    await w.sessions.until(() => dave.revoked !== undefined, 1_000);
    await w.rev.revoker.idle();
    assert.equal(dave.revoked?.reason, 'not_member');
    assert.equal(alice.revoked, undefined);
  } finally { await w.stop(); }
});

test('a member added by webhook gets in at once despite a cached "not a member"', async () => {
  const w = await world();
  try {
    const neg = await w.dir.lookup('carol');
    assert.deepEqual(neg.status === 'ok' && neg.teams, []);
    const hook = w.gh.webhooks!;
    w.gh.webhooks = undefined;
    w.gh.addMember('ops', 'carol');
    const cached = await w.dir.lookup('carol');
    assert.deepEqual(cached.status === 'ok' && cached.teams, [], 'without the webhook the negative answer stays cached');
    const d = await hook.send('membership', w.gh.payload('membership', 'added', { login: 'carol', team: 'ops' }));
    assert.equal(d.status, 202);
    const after = await w.dir.lookup('carol');
    assert.deepEqual(after.status === 'ok' && after.teams, ['ops']);
    // organization.member_added does the same.
    w.gh.addUser('Finn', { keys: [newKeyLine()] });
    await w.dir.lookup('finn');
    w.gh.addMember('dev', 'finn');
    assert.equal(((await hook.send('organization', w.gh.payload('organization', 'member_added', { login: 'finn' }))).status), 202);
    const finn = await w.dir.lookup('finn');
    assert.deepEqual(finn.status === 'ok' && finn.teams, ['dev']);
  } finally { await w.stop(); }
});

test('org_block.blocked: revoked as "blocked" only when GitHub confirms the block (admin:org); otherwise the membership answer decides', async () => {
  for (const [scopes, reason] of [['read:org, admin:org', 'blocked'], ['read:org', 'not_member']] as const) {
    const w = await world({ scopes });
    try {
      const bob = w.sessions.add('Bob', w.keys.bob, 'dev');
      const hook = w.gh.webhooks!;
      w.gh.webhooks = undefined;
      w.gh.removeFromOrg('bob'); // GitHub: a member must be removed before being blocked (that delivery is lost here)
      w.gh.webhooks = hook;
      w.gh.blockUser('bob');
      await w.sessions.until(() => bob.revoked !== undefined, 1_000);
      assert.equal(bob.revoked?.reason, reason, scopes);
      assert.equal(w.gh.count('/orgs/acme/blocks/Bob'), 1);
    } finally { await w.stop(); }
  }
});

test('events that do not concern access are acknowledged and ignored; without a secret the endpoint is 404', async () => {
  const w = await world();
  try {
    const d = await w.hook.send('push', { ref: 'refs/heads/main' });
    assert.deepEqual([d.status, JSON.parse(d.answer)], [202, { status: 'ignored' }]);
    const e = await w.hook.send('team', { ...w.gh.payload('team', 'created', { team: 'ops' }) });
    assert.deepEqual([e.status, JSON.parse(e.answer)], [202, { status: 'ignored' }]);
    const bad = await w.hook.send('membership', {}, { rawBody: 'not json{' });
    assert.equal(bad.status, 400);
    assert.equal(w.gh.total, 0);
  } finally { await w.stop(); }
  const off = await world({ secret: undefined });
  try {
    const d = await off.hook.send('membership', off.gh.payload('membership', 'removed', { login: 'alice', team: 'ops' }));
    assert.equal(d.status, 404);
    assert.equal((JSON.parse(d.answer) as { error: { code: string } }).error.code, 'ERR_HTTP_NOT_FOUND');
  } finally { await off.stop(); }
});
