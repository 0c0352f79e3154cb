import { test, before, after } from 'node:test';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { startHarness, spawnSsh, type Harness } from './teamssh.js';
import { ensureTestAccount } from './accounts.js';
import { ESCAPES, EscapeKit, type Escape, escapedAlive, escapedPid, killEscaped } from './escapes.js';
import { waitFor } from './poll.js';
import { cli } from './cli.js';

/**
 * Nothing a session started outlives it, driven with the real OpenSSH client: a normal
 * exit, a client disconnect and `teamssh kill`, for each way of escaping the Unix session. Run once per
 * containment (`setting`) from its own test file, as `account`.
 */
const SECRET = 'containment-webhook-secret';

export function containmentOverSsh(o: { setting: 'auto' | 'process-scan'; account: string; summary: string }): void {
  let h: Harness;
  let kit: EscapeKit;
  const escaped = new Set<number>();

  before(async () => {
    await ensureTestAccount(o.account);
    kit = await EscapeKit.create();
    h = await startHarness({
      env: { TEAMSSH_SHELL_USER: o.account, TEAMSSH_SESSION_CONTAINMENT: o.setting, TEAMSSH_HTTP_LISTEN: '127.0.0.1:0', TEAMSSH_GITHUB_WEBHOOK_SECRET: SECRET, TEAMSSH_REVALIDATE_INTERVAL: '0' },
    });
    h.github.hook(`http://127.0.0.1:${h.server.httpAddress!.port}/webhooks/github`, SECRET);
  });
  after(async () => {
    await h?.close();
    killEscaped(escaped);
    await kit?.remove();
  });

  const sessionEnd = (id: string) => h.log.waitFor('session_end', (l) => l.sessionId === id);
  /** A session still running its program, with a process escaped `how`, handed to `fn`; the client is gone after. */
  async function withLiveSession(how: Escape, fn: (s: { client: ChildProcessWithoutNullStreams; id: string; pid: number }) => Promise<void>): Promise<void> {
    const { cmd, pidFile } = kit.command(how);
    const client = spawnSsh(h.port, 'alice', h.alice, [`${cmd}; echo started $TEAMSSH_SESSION_ID; exec sleep 1000`]);
    let out = '';
    client.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const closed = new Promise((r) => client.once('close', r));
    try {
      await waitFor(() => out.includes('started '), { what: 'session started', timeoutMs: 10_000 });
      const pid = await escapedPid(pidFile);
      escaped.add(pid);
      await waitFor(() => escapedAlive(pid), { what: 'escaped process runs' });
      await fn({ client, id: idIn(out), pid });
    } finally {
      client.kill('SIGKILL');
      await closed;
    }
  }

  const idIn = (out: string) => /started (\w+)/.exec(out)?.[1] ?? assert.fail(`no session id in ${JSON.stringify(out)}`);

  test(`the server says at start which containment sessions get: "${o.summary}"`, () => {
    const line = h.log.events('session_containment');
    assert.equal(line.length, 1);
    assert.equal(line[0]!.msg, o.summary);
  });

  test("the issue's reproduction: `setsid sleep … &` does not outlive the session", async () => {
    const uid = (await ensureTestAccount(o.account)).uid;
    const r = await h.ssh('alice', h.alice, ['setsid sleep 4446 >/dev/null 2>&1 & echo started $TEAMSSH_SESSION_ID']);
    assert.equal(r.code, 0, r.stderr);
    await sessionEnd(idIn(r.stdout));
    const left = sleepers('4446', uid);
    for (const pid of left) process.kill(pid, 'SIGKILL'); // so a failure here does not leak
    assert.deepEqual(left, [], 'sleep 4446 is still running as the session account');
  });

  for (const how of ESCAPES) {
    test(`${how}: nothing is left after the session's program exits`, async () => {
      const { cmd, pidFile } = kit.command(how);
      const r = await h.ssh('alice', h.alice, [`${cmd}; echo started $TEAMSSH_SESSION_ID`]);
      assert.equal(r.code, 0, r.stderr);
      const pid = await escapedPid(pidFile);
      escaped.add(pid);
      await sessionEnd(idIn(r.stdout));
      assert.equal(escapedAlive(pid), false, `${how}: the process outlived the session`);
    });

    test(`${how}: nothing is left after the client disconnects`, async () => {
      await withLiveSession(how, async ({ client, id, pid }) => {
        client.kill('SIGKILL');
        assert.match(String((await sessionEnd(id)).endReason), /client_closed|connection_lost/);
        assert.equal(escapedAlive(pid), false, `${how}: the process outlived the session`);
      });
    });

    test(`${how}: nothing is left after an operator's teamssh kill`, async () => {
      await withLiveSession(how, async ({ id, pid }) => {
        const killed = await cli(['kill', id, '--socket', h.config.controlSocket]);
        assert.equal(killed.code, 0, killed.stderr);
        assert.equal((await sessionEnd(id)).endReason, 'killed');
        assert.equal(escapedAlive(pid), false, `${how}: the process outlived the session`);
      });
    });

    test(`${how}: nothing is left after a revocation on GitHub`, async () => {
      await withLiveSession(how, async ({ id, pid }) => {
        h.github.removeMember('ops', 'alice');
        assert.equal((await sessionEnd(id)).endReason, 'revoked');
        assert.equal(escapedAlive(pid), false, `${how}: the process outlived the revoked session`);
      });
      // Back in the team (the webhook drops the cached "not a member"), for the next test.
      h.github.addMember('ops', 'alice');
      await waitFor(async () => (await h.ssh('alice', h.alice, ['true'])).code === 0, { what: 'alice can log in again', intervalMs: 100 });
    });
  }
}

/** Pids running `sleep ARG` as `uid`. */
function sleepers(arg: string, uid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1') !== `sleep\u0000${arg}\u0000`) continue;
      const st = readFileSync(`/proc/${name}/status`, 'utf8');
      if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(st) && !/^State:\s+Z/m.test(st)) out.push(Number(name));
    } catch {
      // Exited during the scan.
    }
  }
  return out;
}
