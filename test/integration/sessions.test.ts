import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startHarness, makeKey, sshClient, TEST_ACCOUNT, type Harness, type ClientKey } from '../support/teamssh.js';
import { ensureTestAccount } from '../support/accounts.js';
import { connect, exec, shell } from '../support/ssh2-client.js';
import { waitFor } from '../support/poll.js';
import { lookupAccount } from '../../src/launch/account.js';

const run = promisify(execFile);
const DEV_ACCOUNT = 'teamssh-t2';
let h: Harness;
let devKey: ClientKey;

before(async () => {
  await ensureTestAccount(DEV_ACCOUNT, { groups: ['teamssh-tg'] });
  h = await startHarness({
    env: { TEAMSSH_GITHUB_TEAMS: 'ops,dev', TEAMSSH_MAX_SESSIONS_PER_LOGIN: '4' },
    async setup(gh, dir) {
      devKey = await makeKey(dir, 'dev');
      gh.addTeam('dev').addUser('devon', { keys: [devKey.publicLine] }).addMember('dev', 'devon');
      // The handler must be executable by the session account wherever the repo is checked out.
      await copyFile(path.resolve('handlers/dev-menu'), path.join(dir, 'dev-menu'));
      return { TEAMSSH_TEAM_POLICIES: `dev=${DEV_ACCOUNT}:${path.join(dir, 'dev-menu')}` };
    },
  });
});
after(() => h?.close());

test('exit status reaches the client; stdout and stderr stay apart without a pty; stdin streams with EOF', async () => {
  const r = await h.ssh('alice', h.alice, ['echo out; echo err >&2; exit 42']);
  assert.equal(r.code, 42);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  const cat = await h.ssh('alice', h.alice, ['cat; echo done'], { input: 'line1\nline2\n' });
  assert.equal(cat.stdout, 'line1\nline2\ndone\n');
  const end = await h.log.waitFor('session_end', (l) => l.exitStatus === 42);
  for (const f of ['sessionId', 'login', 'team', 'fingerprint', 'remoteAddress', 'remotePort', 'account', 'startedAt', 'endedAt', 'durationMs', 'bytesIn', 'bytesOut', 'endReason', 'recording', 'sha256']) {
    assert.ok(end[f] !== undefined && end[f] !== null, `session_end lacks ${f}`);
  }
  assert.equal(end.endReason, 'exit');
  assert.equal(end.team, 'ops');
  assert.match(String(end.recording), /^\/.+\.cast$/);
  assert.equal(end.sha256, createHash('sha256').update(await readFile(String(end.recording))).digest('hex'));
});

test('a process killed by a signal reports the exit signal', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    const o = await exec(c, 'kill -TERM $$');
    // ssh2's client prefixes the wire's "TERM" with SIG.
    assert.deepEqual(await o.exit, { code: null, signal: 'SIGTERM' });
  } finally {
    c.end();
  }
});

test('the session runs with exactly the account uid, gid and groups', async () => {
  const acct = await lookupAccount(TEST_ACCOUNT);
  const r = await h.ssh('alice', h.alice, ['id -u; id -g; id -G; id -un; pwd']);
  const [uid, gid, groups, name, cwd] = r.stdout.trim().split('\n');
  assert.equal(Number(uid), acct.uid);
  assert.equal(Number(gid), acct.gid);
  assert.deepEqual(groups!.split(' ').map(Number).sort(), [...acct.groups].sort());
  assert.equal(name, TEST_ACCOUNT);
  assert.equal(cwd, acct.home);
  const t = await h.ssh('alice', h.alice, ['-tt', 'id -G'], {});
  assert.deepEqual(t.stdout.trim().split(' ').map(Number).sort(), [...acct.groups].sort());
});

test('the environment is an allowlist: LANG accepted, LD_PRELOAD refused, no server secrets', async (t) => {
  const savedToken = process.env.GITHUB_TOKEN;
  t.after(() => (savedToken === undefined ? delete process.env.GITHUB_TOKEN : (process.env.GITHUB_TOKEN = savedToken)));
  process.env.GITHUB_TOKEN = 'ghp_servers_own_secret';
  const child = await new Promise<{ stdout: string }>((resolve, reject) =>
    execFile(
      'ssh',
      ['-F', '/dev/null', '-i', h.alice.path, '-p', String(h.port), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
        '-o', 'SendEnv=LANG LD_PRELOAD BASH_ENV PATH', 'alice@127.0.0.1', 'env'],
      { env: { PATH: process.env.PATH, LANG: 'C.UTF-8', LD_PRELOAD: '/tmp/evil.so', BASH_ENV: '/tmp/evil.sh' } },
      (err, stdout) => (err ? reject(err) : resolve({ stdout })),
    ),
  );
  const env = new Map(child.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(env.get('LANG'), 'C.UTF-8');
  assert.equal(env.has('LD_PRELOAD'), false);
  assert.equal(env.has('BASH_ENV'), false);
  assert.equal(env.get('PATH'), '/usr/local/bin:/usr/bin:/bin');
  assert.equal(env.has('GITHUB_TOKEN'), false);
  assert.equal(env.get('USER'), TEST_ACCOUNT);
  assert.equal(env.get('TEAMSSH_GITHUB_LOGIN'), 'Alice');
  assert.match(env.get('SSH_CONNECTION') ?? '', /^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+$/);
  for (const name of env.keys()) assert.doesNotMatch(name, /^(ASCIINEMA|GITHUB|npm_|NODE)/);
  await h.log.waitFor('env_refused', (l) => Array.isArray(l.names) && (l.names as string[]).includes('LD_PRELOAD'));
});

test('a window change reaches the pty', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    const s = await shell(c, { rows: 30, cols: 100, term: 'xterm' });
    s.channel.write('stty size\n');
    await s.waitFor('30 100');
    s.channel.setWindow(40, 120, 0, 0);
    await new Promise((r) => setTimeout(r, 100));
    s.channel.write('stty size; exit 3\n');
    await s.waitFor('40 120');
    assert.equal((await s.exit).code, 3);
  } finally {
    c.end();
  }
});

test('no descriptor of the server or another session is visible inside a session', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    const first = await shell(c);
    first.channel.write('echo first-ready\n');
    await first.waitFor('first-ready');
    // ls lists the shell's descriptors from outside, so the listing's own fds do not show up.
    const second = await exec(c, 'ls -l /proc/$$/fd; true', { pty: { rows: 24, cols: 80, term: 'xterm' } });
    await second.exit;
    const fds = [...second.out().matchAll(/ (\d+) -> (\S+)/g)].map((m) => [m[0], m[1], m[2]]);
    assert.ok(fds.length >= 3, second.out());
    for (const [, num, target] of fds) {
      assert.ok(['0', '1', '2'].includes(num!), `unexpected fd ${num} -> ${target}`);
      assert.match(target!, /^\/dev\/pts\/\d+$/);
    }
    first.channel.end();
  } finally {
    c.end();
  }
});

test('no process is left behind when the client is killed mid-command', async () => {
  const marker = `sleep 4242.${process.pid}`;
  const p = sshClient(h.port, 'alice', h.alice, ['-tt', `(${marker} &) ; ${marker}`], { timeoutMs: 1500 });
  await waitFor(async () => (await run('pgrep', ['-f', marker]).catch(() => ({ stdout: '' }))).stdout.trim(), { timeoutMs: 5000, intervalMs: 50, what: 'the marked sleep running' });
  await p; // killed by the 1.5 s timeout: the connection drops
  await h.log.waitFor('session_end', (l) => String(l.command).includes(marker) && (l.endReason === 'connection_lost' || l.endReason === 'client_closed'));
  const { stdout } = await run('pgrep', ['-f', marker]).catch(() => ({ stdout: '' }));
  assert.equal(stdout.trim(), '', 'processes left behind');
});

test('port forwarding, agent forwarding and sftp are refused and logged', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    await assert.rejects(new Promise((resolve, reject) => c.forwardOut('127.0.0.1', 1, '127.0.0.1', 22, (err, ch) => (err ? reject(err) : resolve(ch)))));
    await assert.rejects(new Promise((resolve, reject) => c.forwardIn('127.0.0.1', 0, (err, port) => (err ? reject(err) : resolve(port)))));
    await assert.rejects(new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s)))));
  } finally {
    c.end();
  }
  await h.log.waitFor('channel_refused', (l) => l.request === 'port_forwarding_local');
  await h.log.waitFor('channel_refused', (l) => l.request === 'port_forwarding_remote');
  await h.log.waitFor('channel_refused', (l) => l.request === 'subsystem');
});

test('a team policy maps members to its account and handler', async () => {
  const ok = await h.ssh('devon', devKey, ['uptime']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /load average/);
  const denied = await h.ssh('devon', devKey, ['rm -rf /tmp/x']);
  assert.equal(denied.code, 126);
  assert.match(denied.stderr, /not allowed/);
  const start = await h.log.waitFor('session_start', (l) => l.login === 'devon');
  assert.equal(start.team, 'dev');
  assert.equal(start.account, DEV_ACCOUNT);
  const ops = await h.ssh('alice', h.alice, ['id -un']);
  assert.equal(ops.stdout.trim(), TEST_ACCOUNT);
});

test('every recording from these sessions is finished and named after its session', async () => {
  await h.ssh('alice', h.alice, ['echo a-recording-of-its-own']); // so the test stands alone
  await waitFor(() => h.server.sessions.size === 0, { timeoutMs: 5000, what: 'no live session' });
  assert.equal(h.server.sessions.size, 0);
  const files = await readdir(h.config.recordings.dir);
  assert.ok(!files.some((f) => f.endsWith('.part')), 'a .part is left although no session is live');
  const live = await readdir(path.join(h.config.recordings.dir, 'live'));
  assert.ok(!live.some((f) => f.endsWith('.part') || f.endsWith('.part.json')), `live/ holds ${live.join(', ')} although no session is live`);
  const ids = new Set(h.log.events('session_end').map((l) => String(l.sessionId)));
  const casts = files.filter((f) => f.endsWith('.cast'));
  assert.ok(casts.length > 0);
  for (const f of casts) {
    const m = /^\d{8}T\d{6}Z-[A-Za-z0-9-]+-([0-9a-f]+)\.cast$/.exec(f);
    assert.ok(m && ids.has(m[1]!), `${f} is not named after a session that ended`);
  }
});

test('a signal from the client reaches the process', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    const o = await exec(c, 'trap "echo got-int; exit 7" INT; echo armed; while true; do sleep 0.1; done');
    await o.waitFor('armed');
    o.channel.signal('INT');
    assert.equal((await o.exit).code, 7);
    assert.match(o.out(), /got-int/);
  } finally {
    c.end();
  }
});

test('a client that stops reading cannot make the server buffer without limit', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    const o = await exec(c, 'cat /dev/zero');
    o.channel.pause(); // stop reading: the SSH window closes and the server must pause the source
    global.gc?.();
    const before = process.memoryUsage().rss;
    await new Promise((r) => setTimeout(r, 2000));
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 64 * 1024 * 1024, `server memory grew by ${Math.round(grown / 1048576)} MB`);
    o.channel.close();
  } finally {
    c.end();
  }
  await h.log.waitFor('session_end', (l) => l.command === 'cat /dev/zero');
});

test('scp (legacy protocol) and rsync work as plain commands over exec', async () => {
  const { writeFile, readFile: rf, mkdtemp: mk } = await import('node:fs/promises');
  const os = await import('node:os');
  const local = await mk(path.join(os.tmpdir(), 'teamssh-scp-'));
  const src = path.join(local, 'payload.txt');
  await writeFile(src, 'payload over scp\n');
  const common = ['-F', '/dev/null', '-i', h.alice.path, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
  await run('scp', ['-O', ...common, '-P', String(h.port), src, 'alice@127.0.0.1:payload.txt']);
  await run('scp', ['-O', ...common, '-P', String(h.port), 'alice@127.0.0.1:payload.txt', path.join(local, 'back.txt')]);
  assert.equal(await rf(path.join(local, 'back.txt'), 'utf8'), 'payload over scp\n');
  await run('rsync', ['-e', ['ssh', ...common, '-p', String(h.port)].join(' '), src, 'alice@127.0.0.1:rsynced.txt']);
  const r = await h.ssh('alice', h.alice, ['cat rsynced.txt']);
  assert.equal(r.stdout, 'payload over scp\n');
});

test('a slow client still gets the end of the output of a program that already exited', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    const o = await exec(c, 'seq 1 2000000', { pty: { rows: 24, cols: 80, term: 'xterm' } });
    o.channel.pause(); // the program finishes while the server holds its output back
    await new Promise((r) => setTimeout(r, 1500));
    o.channel.resume();
    assert.equal((await o.exit).code, 0);
    assert.match(o.out(), /\n2000000\r\n$/);
  } finally {
    c.end();
  }
});

test('a program that does not read its input cannot make the server buffer the client without limit', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    const o = await exec(c, 'sleep 3; wc -c');
    global.gc?.();
    const before = process.memoryUsage().rss;
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let sent = 0;
    // Offer 96 MB while the program sleeps; the client may only send what the window allows.
    const writer = (async () => {
      for (let i = 0; i < 96; i++) {
        sent += chunk.length;
        if (!o.channel.write(chunk)) await new Promise((r) => o.channel.once('drain', r));
      }
      o.channel.end();
    })();
    await new Promise((r) => setTimeout(r, 2500));
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 64 * 1024 * 1024, `server memory grew by ${Math.round(grown / 1048576)} MB while the program slept`);
    await writer;
    assert.equal((await o.exit).code, 0);
    assert.equal(o.out().trim(), String(sent));
  } finally {
    c.end();
  }
});
