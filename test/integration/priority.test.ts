import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { ensureTestAccount } from '../support/accounts.js';
import { serve, serveFixture, type Child, type ServeFixture } from '../support/serve-child.js';
import { sshClient, TEST_ACCOUNT } from '../support/teamssh.js';
import { DEFAULT_LAUNCHER_PATH } from '../../src/launch/launch-args.js';

// The kernel groups tasks by session when it has autogroups (Debian's kernels do); without
// them only the thread nice values count, and the autogroup checks are skipped.
const AUTOGROUP = existsSync('/proc/self/autogroup');

/** The nice value of a task from /proc/PID[/task/TID]/stat (field 19). */
function niceOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/**
 * "/autogroup-123 nice -7" -> { id, nice }. A task in the root autogroup (one descended from
 * PID 1's session without a setsid, as a CI runner may be) reads an empty file: that is the
 * root group, reported as id "/" at nice 0 (the kernel has no knob for it).
 */
function autogroupOf(pid: number | 'self'): { id: string; nice: number } {
  const text = readFileSync(`/proc/${pid}/autogroup`, 'utf8');
  if (text === '') return { id: '/', nice: 0 };
  const m = /^(\S+) nice (-?\d+)/.exec(text);
  assert.ok(m, `unexpected /proc/${pid}/autogroup: ${JSON.stringify(text)}`);
  return { id: m[1]!, nice: Number(m[2]) };
}

function setup(): Promise<ServeFixture> {
  return serveFixture('teamssh-prio-', { TEAMSSH_PRIORITY_BOOST: '7', TEAMSSH_SHUTDOWN_GRACE: '1' });
}

async function stop(srv: Child): Promise<void> {
  srv.proc.kill('SIGTERM');
  await srv.exited;
}

/** What a session sees of its own priority: its nice value, then its autogroup line. */
const PROBE = 'nice; cat /proc/self/autogroup 2>/dev/null || echo no-autogroup';

test('the launcher gives the program the NICE it is told, from a raised parent too, and refuses a bad one', async () => {
  const account = await ensureTestAccount(TEST_ACCOUNT);
  const env = { PATH: '/usr/bin:/bin' };
  const u = String(account.uid);
  const g = String(account.gid);
  // `nice -n -7` stands for the raised server: the program must not keep its priority.
  for (const want of ['0', '3']) {
    const r = spawnSync('nice', ['-n', '-7', DEFAULT_LAUNCHER_PATH, u, g, g, account.home, 'no-root', '-', want, '/usr/bin/nice', 'nice'], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), want);
  }
  for (const bad of ['-21', '20', 'x', '']) {
    const r = spawnSync(DEFAULT_LAUNCHER_PATH, [u, g, g, account.home, 'no-root', '-', bad, '/usr/bin/id', 'id'], { env, encoding: 'utf8' });
    assert.equal(r.status, 126, `NICE ${JSON.stringify(bad)}`);
    assert.equal(r.stdout, '', 'the program must not have run');
    assert.match(r.stderr, /^teamssh: bad nice argument/);
  }
});

test('serve runs every thread and its own autogroup TEAMSSH_PRIORITY_BOOST levels up; pty and pipe sessions start at the original priority', async () => {
  const { dir, gh, env, key } = await setup();
  try {
    // detached: the server leads its own session, as under systemd.
    const srv = await serve(env, { detached: true });
    try {
      const pid = srv.proc.pid!;
      const base = os.getPriority();
      for (const tid of readdirSync(`/proc/${pid}/task`)) assert.equal(niceOf(`/proc/${pid}/task/${tid}/stat`), Math.max(-20, base - 7), `thread ${tid}`);
      assert.match(srv.output(), new RegExp(`"event":"priority".*"serverNice":${Math.max(-20, base - 7)},"sessionNice":${base}`));
      if (AUTOGROUP) assert.equal(autogroupOf(pid).nice, Math.max(-20, base - 7));

      for (const args of [[PROBE], ['-tt', PROBE]]) {
        const r = await sshClient(srv.port, 'alice', key, args);
        assert.equal(r.code, 0, r.stderr);
        const [nice, group] = r.stdout.replace(/\r/g, '').trim().split('\n');
        assert.equal(Number(nice), base, `${args.join(' ')}: the session's nice value`);
        if (AUTOGROUP) {
          // setsid made a fresh autogroup, at 0 whatever the server's is.
          assert.match(group!, /^\/autogroup-\d+ nice 0$/);
          assert.notEqual(group!.split(' ')[0], autogroupOf(pid).id);
        }
      }
    } finally {
      await stop(srv);
    }
  } finally {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a server that does not lead its own session leaves the autogroup alone (it is whoever started it), and boost 0 changes nothing', async () => {
  const { dir, gh, env } = await setup();
  try {
    const before = AUTOGROUP ? autogroupOf('self') : undefined;
    const srv = await serve(env);
    try {
      assert.equal(niceOf(`/proc/${srv.proc.pid}/stat`), Math.max(-20, os.getPriority() - 7));
      assert.match(srv.output(), /"event":"priority".*autogroup left alone: the server does not lead its own session/);
      if (before) assert.deepEqual(autogroupOf('self'), before, "the test runner's autogroup must not change");
    } finally {
      await stop(srv);
    }
    const off = await serve({ ...env, TEAMSSH_PRIORITY_BOOST: '0' }, { detached: true });
    try {
      assert.equal(niceOf(`/proc/${off.proc.pid}/stat`), os.getPriority());
      if (AUTOGROUP) assert.equal(autogroupOf(off.proc.pid!).nice, 0);
    } finally {
      await stop(off);
    }
  } finally {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
