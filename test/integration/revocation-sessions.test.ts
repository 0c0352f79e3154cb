import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { makeKey, startHarness, type Harness } from '../support/teamssh.js';
import { connect, exec, shell, type Opened } from '../support/ssh2-client.js';

const SECRET = 'whsec_e2e_never_logged_0815';

/** A running pty shell and a running command of alice, both ready. */
async function liveSessions(h: Harness, key = h.alice): Promise<{ pty: Opened; cmd: Opened; close(): void }> {
  const c = await connect(h.port, 'alice', key);
  const pty = await shell(c);
  pty.channel.write('echo ready\n');
  await pty.waitFor('ready');
  const cmd = await exec(c, 'echo go; sleep 60');
  await cmd.waitFor('go');
  return { pty, cmd, close: () => c.end() };
}

async function sidecarOf(h: Harness, sessionId: string): Promise<Record<string, unknown>> {
  const f = (await readdir(h.config.recordings.dir)).find((x) => x.endsWith(`${sessionId}.json`));
  assert.ok(f, `no sidecar for ${sessionId}`);
  return JSON.parse(await readFile(path.join(h.config.recordings.dir, f), 'utf8')) as Record<string, unknown>;
}

test('removed from the team on GitHub: the webhook ends the live pty and exec sessions within 1 s, and the next login is refused at once', async () => {
  const h = await startHarness({ env: { TEAMSSH_HTTP_LISTEN: '127.0.0.1:0', TEAMSSH_GITHUB_WEBHOOK_SECRET: SECRET, TEAMSSH_REVALIDATE_INTERVAL: '0' } });
  try {
    const hook = h.github.hook(`http://127.0.0.1:${h.server.httpAddress!.port}/webhooks/github`, SECRET);
    const s = await liveSessions(h);
    h.github.removeMember('ops', 'alice');
    const [delivery] = await hook.settled();
    assert.equal(delivery?.status, 202);
    await Promise.all([s.pty.exit, s.cmd.exit]);
    const ms = Date.now() - delivery!.sentAt;
    assert.ok(ms < 1000, `sessions ended ${ms} ms after the delivery`);
    assert.match(s.pty.out(), /teamssh: access revoked: no longer a member of acme\/ops/);
    assert.match(s.cmd.err(), /teamssh: access revoked: no longer a member of acme\/ops/);
    for (const kind of ['shell', 'exec']) {
      const end = await h.log.waitFor('session_end', (l) => l.kind === kind);
      assert.equal(end.endReason, 'revoked');
      assert.equal(end.revocationReason, 'not_member');
      assert.equal(end.revocationTrigger, 'webhook');
      assert.equal(end.deliveryId, delivery!.id);
      assert.match(String(end.sha256), /^[0-9a-f]{64}$/, 'the recording was finished');
      const sidecar = await sidecarOf(h, String(end.sessionId));
      assert.equal(sidecar.endReason, 'revoked');
      assert.equal(sidecar.revocationReason, 'not_member');
    }
    assert.equal(h.log.events('session_revoked').length, 2);
    const again = await h.ssh('alice', h.alice, ['true']);
    assert.equal(again.code, 255, 'the next login is refused');
    await h.log.waitFor('auth_refused', (l) => l.reason === 'not_member');
    assert.ok(!h.log.lines.some((l) => JSON.stringify(l).includes(SECRET)), 'the webhook secret is never logged');
    s.close();
  } finally {
    await h.close();
  }
});

test('without any webhook, revalidation ends the sessions of a removed member within one interval', async () => {
  const h = await startHarness({ env: { TEAMSSH_REVALIDATE_INTERVAL: '1' } });
  try {
    const s = await liveSessions(h);
    h.github.removeMember('ops', 'alice');
    await Promise.all([s.pty.exit, s.cmd.exit]);
    const end = await h.log.waitFor('session_end', (l) => l.endReason === 'revoked');
    assert.equal(end.revocationTrigger, 'revalidation');
    assert.equal(end.revocationReason, 'not_member');
    s.close();
  } finally {
    await h.close();
  }
});

test('a key deleted on GitHub ends only the sessions opened with it', async () => {
  let second!: Awaited<ReturnType<typeof makeKey>>;
  const h = await startHarness({
    env: { TEAMSSH_REVALIDATE_INTERVAL: '1' },
    setup: async (gh, dir) => {
      second = await makeKey(dir, 'alice2');
      gh.addKey('Alice', second.publicLine);
    },
  });
  try {
    const viaFirst = await liveSessions(h);
    const c2 = await connect(h.port, 'alice', second);
    const kept = await exec(c2, 'echo go; sleep 60');
    await kept.waitFor('go');
    h.github.removeKey('Alice', h.alice.publicLine);
    await Promise.all([viaFirst.pty.exit, viaFirst.cmd.exit]);
    assert.match(viaFirst.pty.out(), /the key used for this session was removed from GitHub/);
    // The client sees its exit status first; the audit record follows once the recording is final.
    await h.log.waitFor('session_end', () => h.log.events('session_end').length >= 2);
    const ends = h.log.events('session_end');
    assert.equal(ends.length, 2);
    assert.ok(ends.every((l) => l.endReason === 'revoked' && l.revocationReason === 'key_removed'));
    // Two more intervals: the session opened with the other key is still running.
    await new Promise((r) => setTimeout(r, 2200));
    assert.equal(h.server.sessions.byFingerprint(ends[0]!.fingerprint as string).length, 0);
    assert.equal(h.server.sessions.byLogin('alice').length, 1, 'the other key\'s session lives');
    viaFirst.close();
    c2.end();
  } finally {
    await h.close();
  }
});
