import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeKey, startHarness, type ClientKey, type Harness } from '../support/teamssh.js';
import { connect, shell, type Opened } from '../support/ssh2-client.js';

// Reloads change the YAML config file: the harness's environment wins over the file, so the
// settings under test are left out of it ('' counts as unset) and written to the file instead.

/** A harness whose teams come from a config file; `bob` is a member of team `dev`. */
async function withConfigFile(yaml: string, env: Record<string, string> = {}): Promise<{ h: Harness; bob: ClientKey; write(text: string): Promise<void> }> {
  let file = '';
  let bob: ClientKey | undefined;
  const h = await startHarness({
    env: { TEAMSSH_GITHUB_TEAMS: '', ...env },
    setup: async (gh, dir) => {
      bob = await makeKey(dir, 'bob');
      gh.addTeam('dev').addUser('Bob', { keys: [bob.publicLine] }).addMember('dev', 'Bob');
      file = path.join(dir, 'teamssh.yaml');
      await writeFile(file, yaml);
      return { TEAMSSH_CONFIG: file };
    },
  });
  return { h, bob: bob!, write: (text) => writeFile(file, text) };
}

/** A live shell of `user` that has printed a prompt-independent marker. */
async function liveShell(h: Harness, user: string, key: ClientKey): Promise<Opened> {
  const c = await connect(h.port, user, key);
  const sh = await shell(c);
  sh.channel.write('echo shell-ready\n');
  await sh.waitFor('shell-ready');
  sh.exit.finally(() => c.end()).catch(() => undefined);
  return sh;
}

test('reload adds a team: its member gets in without a restart, and a live session stays up', async () => {
  const { h, bob, write } = await withConfigFile('github:\n  teams: [ops]\n');
  try {
    const alice = await liveShell(h, 'alice', h.alice);
    const before = await h.ssh('bob', bob, ['echo', 'in']);
    assert.equal(before.code, 255, 'dev is not configured yet: bob is refused');
    // Bob's refusal is now cached as "not a member"; the reload must not make him wait it out.

    await write('github:\n  teams: [ops, dev]\n');
    const r = await h.server.reload();
    assert.deepEqual(r, { ok: true, applied: ['TEAMSSH_GITHUB_TEAMS'], deferred: [] });
    const audit = await h.log.waitFor('reload');
    assert.deepEqual([audit.applied, audit.deferred], [['TEAMSSH_GITHUB_TEAMS'], []]);

    const after = await h.ssh('bob', bob, ['echo', 'in']);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, 'in\n');
    alice.channel.write('echo still-here\n');
    await alice.waitFor('still-here');
    assert.equal(h.log.events('session_end').filter((l) => l.login === 'Alice').length, 0, 'the reload ended no session');
    alice.channel.end('exit\n');
    await alice.exit;
  } finally {
    await h.close();
  }
});

test('reload removes a team: its sessions end at the next revalidation as team_not_configured, and its members are refused', async () => {
  const { h, bob, write } = await withConfigFile('github:\n  teams: [ops, dev]\n', { TEAMSSH_REVALIDATE_INTERVAL: '1' });
  try {
    const alice = await liveShell(h, 'alice', h.alice);
    const bobShell = await liveShell(h, 'bob', bob);

    await write('github:\n  teams: [ops]\n');
    assert.deepEqual(await h.server.reload(), { ok: true, applied: ['TEAMSSH_GITHUB_TEAMS'], deferred: [] });
    const revoked = await h.log.waitFor('session_revoked', (l) => l.login === 'Bob', 10_000);
    assert.equal(revoked.reason, 'team_not_configured');
    assert.equal(revoked.team, 'dev');
    await bobShell.exit;
    assert.match(bobShell.out() + bobShell.err(), /access revoked: acme\/dev no longer grants access here/);
    const end = await h.log.waitFor('session_end', (l) => l.login === 'Bob');
    assert.equal(end.endReason, 'revoked');

    const again = await h.ssh('bob', bob, ['echo', 'in']);
    assert.equal(again.code, 255, 'a member of a removed team cannot log in');
    const refused = await h.log.waitFor('auth_refused', (l) => l.user === 'bob');
    assert.equal(refused.reason, 'not_member');

    alice.channel.write('echo alice-still-here\n');
    await alice.waitFor('alice-still-here');
    assert.equal(h.log.events('session_revoked').filter((l) => l.login === 'Alice').length, 0, 'ops still grants alice');
    alice.channel.end('exit\n');
    await alice.exit;
  } finally {
    await h.close();
  }
});

test('an invalid reload changes nothing, and one log line names every problem', async () => {
  const { h, bob, write } = await withConfigFile('github:\n  teams: [ops]\n');
  try {
    const before = h.server.live.current;
    await write('github:\n  teams: [ops, dev]\nauth:\n  maxAuthTries: 0\nupload:\n  visibility: secret\nsessions:\n  policies:\n    - team: ghosts\n      account: nobody\n');
    const r = await h.server.reload();
    assert.equal(r.ok, false);
    const problems = r.ok ? [] : r.problems;
    for (const name of ['TEAMSSH_MAX_AUTH_TRIES', 'TEAMSSH_UPLOAD_VISIBILITY', 'TEAMSSH_TEAM_POLICIES']) {
      assert.ok(problems.some((p) => p.startsWith(name)), `${name} is named: ${problems.join(' | ')}`);
    }
    const failed = h.log.events('reload_failed');
    assert.equal(failed.length, 1, 'one line');
    assert.equal(failed[0]!.code, 'ERR_CONFIG');
    for (const p of problems) assert.ok(String(failed[0]!.msg).includes(p), `the line names "${p}"`);
    assert.equal(h.log.events('reload').length, 0);

    assert.equal(h.server.live.current, before, 'the old configuration stays, untouched');
    const bobTry = await h.ssh('bob', bob, ['echo', 'in']);
    assert.equal(bobTry.code, 255, 'the team of the refused config was not added');
    const aliceTry = await h.ssh('alice', h.alice, ['echo', 'in']);
    assert.equal(aliceTry.code, 0, aliceTry.stderr);

    // Fixed, the same file applies.
    await write('github:\n  teams: [ops, dev]\n');
    assert.equal((await h.server.reload()).ok, true);
    assert.equal((await h.ssh('bob', bob, ['echo', 'in'])).code, 0);
  } finally {
    await h.close();
  }
});

test('a restart-only change is reported as deferred and keeps its old value; live ones beside it apply', async () => {
  const { h, write } = await withConfigFile('github:\n  teams: [ops]\n');
  try {
    await write('github:\n  teams: [ops]\n  cacheTtl: 5\nhttp:\n  listen: 127.0.0.1:0\nauth:\n  maxAuthTries: 2\n');
    const r = await h.server.reload();
    assert.deepEqual(r, { ok: true, applied: ['TEAMSSH_MAX_AUTH_TRIES'], deferred: ['TEAMSSH_HTTP_LISTEN', 'TEAMSSH_CACHE_TTL'] });
    const deferred = h.log.events('reload_deferred');
    assert.deepEqual(deferred.map((l) => [l.setting, l.msg]), [
      ['TEAMSSH_HTTP_LISTEN', 'TEAMSSH_HTTP_LISTEN changed; applies at restart'],
      ['TEAMSSH_CACHE_TTL', 'TEAMSSH_CACHE_TTL changed; applies at restart'],
    ]);
    const c = h.server.live.current;
    assert.equal(c.http.listen, undefined, 'no HTTP listener appears before a restart');
    assert.equal(h.server.httpAddress, undefined);
    assert.equal(c.github.cacheTtlMs, 300_000, 'the cache TTL keeps its old value');
    assert.equal(c.auth.maxAuthTries, 2, 'the live setting beside them applied');
    // A second reload of the same file reports the deferred settings again: they still differ from what runs.
    assert.deepEqual(await h.server.reload(), { ok: true, applied: [], deferred: ['TEAMSSH_HTTP_LISTEN', 'TEAMSSH_CACHE_TTL'] });
  } finally {
    await h.close();
  }
});
