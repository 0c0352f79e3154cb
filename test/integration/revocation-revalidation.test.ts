import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GitHubDirectory } from '../../src/github/directory.js';
import { Revalidator } from '../../src/revocation/revalidator.js';
import { Revoker } from '../../src/revocation/revoker.js';
import { startRevocation } from '../../src/revocation/start.js';
import { FakeGitHub } from '../fakes/github.js';
import { captureLog } from '../support/log-capture.js';
import { FakeSessions, newKeyLine, type FakeSession } from '../support/fake-sessions.js';

const TOKEN = 'ghp_revalidation_T0KEN_never_logged';

/** The revocation a session got (a function, so an earlier `undefined` assertion does not narrow it). */
const why = (s: FakeSession) => s.revoked;

/** A fake GitHub, a directory and a revoker on one settable clock; revalidation rounds are run by hand. */
async function setup(opts: { teams?: string[]; maxStaleMs?: number } = {}) {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN });
  gh.addTeam('ops').addTeam('dev');
  const apiUrl = await gh.start();
  const clock = { t: Date.now() };
  const log = captureLog();
  const teams = opts.teams ?? ['ops', 'dev'];
  const maxStaleMs = opts.maxStaleMs ?? 600_000;
  const dir = new GitHubDirectory({
    apiUrl, token: TOKEN, org: 'acme', teams,
    cacheTtlMs: 300_000, maxStaleMs, negativeTtlMs: 30_000, requestTimeoutMs: 1_000,
    userAgent: 'teamssh-test/0', logger: log.logger, now: () => clock.t,
  });
  const sessions = new FakeSessions();
  const revoker = new Revoker({ org: 'acme', teams, maxStaleMs, directory: dir, sessions, logger: log.logger, now: () => clock.t });
  const revalidator = new Revalidator({ intervalMs: 60_000, sessions, revoker, logger: log.logger });
  return { gh, clock, log, dir, sessions, revoker, revalidator, stop: () => gh.stop() };
}

test('a deleted key ends only the sessions opened with it, with the key message', async () => {
  const w = await setup();
  try {
    const [k1, k2] = [newKeyLine(), newKeyLine()];
    w.gh.addUser('Alice', { keys: [k1, k2] }).addMember('ops', 'alice');
    await w.dir.lookup('alice');
    const withK1 = [w.sessions.add('Alice', k1, 'ops'), w.sessions.add('Alice', k1, 'ops')];
    const withK2 = w.sessions.add('Alice', k2, 'ops');
    await w.revalidator.runRound(0);
    assert.equal(w.sessions.ended.length, 0, 'nothing changed, nothing ends');
    w.gh.removeKey('alice', k1);
    await w.revalidator.runRound(0);
    for (const s of withK1) {
      assert.deepEqual(s.revoked, { reason: 'key_removed', trigger: 'revalidation', deliveryId: undefined, message: 'access revoked: the key used for this session was removed from GitHub' });
    }
    assert.equal(withK2.revoked, undefined);
    const logged = w.log.lines.filter((l) => l.event === 'session_revoked');
    assert.deepEqual(logged.map((l) => [l.sessionId, l.fingerprint, l.reason, l.trigger]).sort(), withK1.map((s) => [s.id, s.fingerprint, 'key_removed', 'revalidation']).sort());
  } finally { await w.stop(); }
});

test('a pending invitation no longer grants a live session', async () => {
  const w = await setup();
  try {
    const k = newKeyLine();
    w.gh.addUser('Carol', { keys: [k] }).addMember('dev', 'carol');
    await w.dir.lookup('carol');
    const s = w.sessions.add('Carol', k, 'dev');
    w.gh.setPending('dev', 'carol');
    await w.revalidator.runRound(0);
    assert.deepEqual([s.revoked?.reason, s.revoked?.message], ['pending_invitation', 'access revoked: membership of acme/dev is only a pending invitation']);
  } finally { await w.stop(); }
});

test('GitHub down: sessions go on while the last verification is younger than max-stale, then end as unverifiable', async () => {
  const w = await setup({ maxStaleMs: 600_000 });
  try {
    const k = newKeyLine();
    w.gh.addUser('Bob', { keys: [k] }).addMember('dev', 'bob');
    await w.dir.lookup('bob');
    const s = w.sessions.add('Bob', k, 'dev');
    await w.revalidator.runRound(0);
    const verifiedAt = w.clock.t;
    w.gh.setDown(true);
    w.clock.t = verifiedAt + 300_000;
    await w.revalidator.runRound(0);
    assert.equal(s.revoked, undefined, 'within max-stale the session goes on');
    const unverified = w.log.lines.find((l) => l.event === 'session_unverified');
    assert.deepEqual([unverified?.login, unverified?.sinceVerifiedMs], ['Bob', 300_000]);
    w.clock.t = verifiedAt + 599_000;
    await w.revalidator.runRound(0);
    assert.equal(s.revoked, undefined);
    w.clock.t = verifiedAt + 600_000;
    await w.revalidator.runRound(0);
    assert.deepEqual([why(s)?.reason, why(s)?.trigger], ['unverifiable', 'revalidation']);
    assert.ok(w.log.lines.some((l) => l.event === 'session_revoked' && l.reason === 'unverifiable' && l.login === 'Bob'));
  } finally { await w.stop(); }
});

test('one conditional check per login per round: 1,000 sessions of 50 logins cost 50 checks, all 304 when unchanged, spread over the interval', async () => {
  const w = await setup({ teams: ['ops'] });
  try {
    const logins = Array.from({ length: 50 }, (_, i) => `user${i}`);
    for (const login of logins) {
      const key = newKeyLine();
      w.gh.addUser(login, { keys: [key] }).addMember('ops', login);
      for (let j = 0; j < 20; j++) w.sessions.add(login, key, 'ops');
    }
    // The logins, ten at a time, as the SSH side would have made them.
    for (let i = 0; i < logins.length; i += 10) await Promise.all(logins.slice(i, i + 10).map((l) => w.dir.lookup(l)));
    w.gh.resetLog();
    const budget = w.gh.remaining;
    const started = Date.now();
    // A 3 s interval in place of 60 s: the spread, not the length, is under test.
    const round = w.revalidator.runRound(3_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const atHalf = w.gh.total;
    await round;
    const took = Date.now() - started;
    assert.equal(w.gh.total, 150, 'user, membership and keys: one check per login');
    const byPath = w.gh.byPath();
    for (let i = 0; i < 50; i++) assert.equal(byPath.get(`/users/user${i}`), 1, `user${i} checked once`);
    assert.equal(w.gh.notModified, 150, 'every answer was a 304');
    assert.equal(w.gh.remaining, budget, '304s cost no rate limit');
    assert.ok(took >= 2_700, `round took ${took} ms: the checks were spread`);
    assert.ok(atHalf > 30 && atHalf < 120, `${atHalf} of 150 requests by mid-round: not a burst`);
    assert.ok(!w.log.lines.some((l) => String(l.msg).includes('stale')), 'every check got its answer from GitHub');
    assert.equal(w.sessions.ended.length, 0);
  } finally { await w.stop(); }
});

test('started with an interval, revalidation ends a removed member\'s sessions without any webhook', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN });
  gh.addTeam('dev');
  const k = newKeyLine();
  gh.addUser('Bob', { keys: [k] }).addMember('dev', 'bob');
  const apiUrl = await gh.start();
  const log = captureLog();
  const dir = new GitHubDirectory({
    apiUrl, token: TOKEN, org: 'acme', teams: ['dev'], cacheTtlMs: 300_000, maxStaleMs: 600_000, negativeTtlMs: 30_000,
    requestTimeoutMs: 1_000, userAgent: 'teamssh-test/0', logger: log.logger,
  });
  await dir.lookup('bob');
  const sessions = new FakeSessions();
  const s = sessions.add('Bob', k, 'dev');
  const rev = startRevocation({ org: 'acme', teams: ['dev'], webhookSecret: undefined, revalidateIntervalMs: 300, maxStaleMs: 600_000, directory: dir, sessions, logger: log.logger });
  try {
    assert.deepEqual(rev.routes, [], 'no secret, no webhook route');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(s.revoked, undefined);
    gh.removeMember('dev', 'bob');
    const removedAt = Date.now();
    await sessions.until(() => s.revoked !== undefined, 2_000);
    assert.ok(s.revokedAt! - removedAt <= 1_000, `within one 300 ms interval (+ slack for a loaded machine): ${s.revokedAt! - removedAt} ms`);
    assert.deepEqual([why(s)?.reason, why(s)?.trigger, why(s)?.deliveryId], ['not_member', 'revalidation', undefined]);
  } finally {
    await rev.stop();
    await gh.stop();
  }
  assert.ok(!log.text().includes(TOKEN));
});
