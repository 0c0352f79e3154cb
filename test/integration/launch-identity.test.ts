import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lookupAccount, type Account } from '../../src/launch/account.js';
import { spawnProgram } from '../../src/launch/spawn.js';
import { loginShellArgv0, ROOT_REFUSED } from '../../src/launch/launch-args.js';
import { DEFAULT_LAUNCHER_PATH } from '../../src/launch/launch-args.js';
import { hasCode } from '../../src/errors.js';
import { ensureTestAccount, groupId } from '../support/accounts.js';
import { observe, testEnv } from '../support/session-harness.js';

const PTY = { cols: 80, rows: 24, term: 'xterm-256color' };
let account: Account;
let extraGid: number;
let serverOnlyGid: number;

before(async () => {
  account = await ensureTestAccount('tsshid', { groups: ['tsshid-extra'] });
  extraGid = await groupId('tsshid-extra');
  // Give the "server" a supplementary group the account does not have: node-pty's own
  // uid/gid option would leak exactly this into the session.
  serverOnlyGid = await groupId('disk');
  process.setgroups?.([0, serverOnlyGid]);
});

async function idOutput(pty: boolean): Promise<{ u: number; g: number; G: number[] }> {
  const s = spawnProgram({
    account,
    allowRoot: false,
    file: '/bin/sh',
    args: ['-c', 'echo "U=$(id -u) G=$(id -g) GS=$(id -G) END"'],
    env: testEnv(account, pty ? { term: PTY.term } : {}),
    ...(pty ? { pty: PTY } : {}),
  });
  const o = observe(s);
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  const m = /U=(\d+) G=(\d+) GS=([\d ]+) END/.exec(o.stdout());
  assert.ok(m, `unexpected output ${JSON.stringify(o.stdout())}`);
  return { u: Number(m[1]), g: Number(m[2]), G: m[3]!.trim().split(' ').map(Number) };
}

for (const pty of [true, false]) {
  test(`${pty ? 'pty' : 'pipes'}: exactly the account's uid, gid and groups`, async () => {
    assert.ok(account.groups.includes(extraGid), 'fixture: account has its supplementary group');
    const id = await idOutput(pty);
    assert.equal(id.u, account.uid);
    assert.equal(id.g, account.gid);
    assert.deepEqual([...id.G].sort(), [...account.groups].sort());
    assert.ok(id.G.includes(extraGid));
    assert.ok(!id.G.includes(0), 'root group must not leak');
    assert.ok(!id.G.includes(serverOnlyGid), "server's groups must not leak");
  });
}

test('pty: login shell starts in HOME with SSH_TTY naming its terminal', async () => {
  const s = spawnProgram({
    account,
    allowRoot: false,
    file: account.shell,
    args: [],
    argv0: loginShellArgv0(account.shell),
    env: testEnv(account, { term: PTY.term }),
    pty: PTY,
  });
  const o = observe(s);
  s.write(Buffer.from('shopt -q login_shell && echo "LOGIN=$((1+1))"; echo "CWD=$(pwd):$PWD:TTY=$(tty):$SSH_TTY"; exit\n'));
  await o.exited;
  assert.match(o.stdout(), /LOGIN=2/);
  const m = /CWD=(\/[^:]*):(\/[^:]*):TTY=(\/[^:]*):(\/\S*)/.exec(o.stdout());
  assert.ok(m, o.stdout());
  assert.equal(m[1], account.home);
  assert.equal(m[2], account.home);
  assert.match(m[3]!, /^\/dev\/pts\/\d+$/);
  assert.equal(m[4], m[3]);
});

test('missing HOME: a message, and the session starts in /', async () => {
  const homeless = { ...account, home: '/nonexistent-teamssh-home' };
  const s = spawnProgram({ account: homeless, allowRoot: false, file: '/bin/pwd', args: [], env: testEnv(homeless) });
  const o = observe(s);
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  assert.equal(o.stdout(), '/\n');
  assert.match(o.stderr(), /^teamssh: cannot enter home directory \/nonexistent-teamssh-home/);
});

test('signals start at their defaults (node ignores SIGPIPE) and none are blocked', async () => {
  const s = spawnProgram({ account, allowRoot: false, file: '/bin/grep', args: ['-E', '^Sig(Ign|Blk)', '/proc/self/status'], env: testEnv(account) });
  const o = observe(s);
  await o.exited;
  assert.match(o.stdout(), /SigBlk:\s+0+\n/);
  assert.match(o.stdout(), /SigIgn:\s+0+\n/);
});

test('root is refused unless allowRoot is passed', async () => {
  const root = await lookupAccount('root');
  assert.throws(
    () => spawnProgram({ account: root, allowRoot: false, file: '/usr/bin/id', args: ['-u'], env: testEnv(root) }),
    (e) => hasCode(e, ROOT_REFUSED),
  );
  const s = spawnProgram({ account: root, allowRoot: true, file: '/usr/bin/id', args: ['-u'], env: testEnv(root) });
  const o = observe(s);
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  assert.equal(o.stdout(), '0\n');
});

test('the launcher refuses uid 0 on its own and reports bad programs', () => {
  const env = { PATH: '/usr/bin:/bin' };
  const r = spawnSync(DEFAULT_LAUNCHER_PATH, ['0', '0', '-', '/root', 'no-root', '-', '0', '/usr/bin/id', 'id'], { env, encoding: 'utf8' });
  assert.equal(r.status, 126);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'teamssh: refusing to start a session as root\n');

  const u = String(account.uid);
  const g = String(account.gid);
  const missing = spawnSync(DEFAULT_LAUNCHER_PATH, [u, g, g, account.home, 'no-root', '-', '0', '/no/such/program', 'x'], { env, encoding: 'utf8' });
  assert.equal(missing.status, 127);
  assert.match(missing.stderr, /^teamssh: \/no\/such\/program: No such file or directory\n$/);

  const usage = spawnSync(DEFAULT_LAUNCHER_PATH, [u, g], { env, encoding: 'utf8' });
  assert.equal(usage.status, 126);
  assert.match(usage.stderr, /^teamssh: launcher usage/);
});

test('the launcher refuses to run a program it could not put in the session cgroup', () => {
  const env = { PATH: '/usr/bin:/bin' };
  const u = String(account.uid);
  const g = String(account.gid);
  const launch = (cgroup: string) => spawnSync(DEFAULT_LAUNCHER_PATH, [u, g, g, account.home, 'no-root', cgroup, '0', '/usr/bin/id', 'id'], { env, encoding: 'utf8' });
  // An ordinary directory with a cgroup.procs file must not be mistaken for a cgroup.
  const fake = mkdtempSync(path.join(os.tmpdir(), 'teamssh-fakecg-'));
  writeFileSync(path.join(fake, 'cgroup.procs'), '');
  try {
    for (const [dir, why] of [[fake, /not a cgroup2 directory/], ['/no/such/cgroup', /No such file/], ['relative/cgroup', /absolute path/]] as const) {
      const r = launch(dir);
      assert.equal(r.status, 126, `${dir}: ${r.stderr}`);
      assert.equal(r.stdout, '', 'the program must not have run');
      assert.match(r.stderr, why);
    }
    assert.equal(readFileSync(path.join(fake, 'cgroup.procs'), 'utf8'), '');
  } finally {
    rmSync(fake, { recursive: true, force: true });
  }
});
