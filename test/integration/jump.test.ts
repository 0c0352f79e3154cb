import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeKey, spawnSsh, startHarness, type Harness } from '../support/teamssh.js';
import { connect, exec, shell } from '../support/ssh2-client.js';
import { freePort } from '../../bench/openssh.js';
import { jumpSetup, type JumpSetup } from '../support/sshd-target.js';
import { waitFor } from '../support/poll.js';
import { asciinemaCat, hasAsciinema } from '../support/asciinema-cat.js';
import { checkTargets } from '../../src/jump/check-targets.js';

const run = promisify(execFile);

// One teamssh with targets behind it: db1 (a real sshd, reachable by ops), down1 (nothing
// listens), badkey (db1's sshd, but another key pinned), devonly (db1's sshd, team dev only).
describe('jump to internal hosts by username routing', () => {
  let h: Harness;
  let js: JumpSetup;
  let bob: Awaited<ReturnType<typeof makeKey>>;
  before(async () => {
    const closedPort = await freePort();
    h = await startHarness({
      env: { TEAMSSH_GITHUB_TEAMS: 'ops,dev' },
      setup: async (gh, dir) => {
        bob = await makeKey(dir, 'bob');
        gh.addTeam('dev').addUser('bob', { keys: [bob.publicLine] }).addMember('dev', 'bob');
        const other = await makeKey(dir, 'not-the-host-key');
        js = await jumpSetup(dir, (t) => [
          { name: 'down1', host: '127.0.0.1', port: closedPort, user: 'teamssh-tgt', teams: ['ops'], hostKeys: [t.hostKeyLine] },
          { name: 'badkey', host: '127.0.0.1', port: t.port, user: 'teamssh-tgt', teams: ['ops'], hostKeys: [other.publicLine] },
          { name: 'devonly', host: '127.0.0.1', port: t.port, user: 'teamssh-tgt', teams: ['dev'], hostKeys: [t.hostKeyLine] },
          // The target's sshd admits only teamssh-tgt: for this account the jump key is refused.
          { name: 'keyrefused', host: '127.0.0.1', port: t.port, user: 'teamssh-t1', teams: ['ops'], hostKeys: [t.hostKeyLine] },
        ]);
        return { TEAMSSH_CONFIG: js.configFile };
      },
    });
  });
  after(async () => {
    await h?.close();
    await js?.target.stop();
  });

  test('exec runs on the target as its user, with exit status and stderr apart', async () => {
    const r = await h.ssh('alice@db1', h.alice, ['echo out-$(whoami); echo err-line >&2; exit 7']);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'out-teamssh-tgt\n');
    assert.equal(r.stderr, 'err-line\n');
    const start = await h.log.waitFor('session_start', (l) => l.target === 'db1' && l.command !== null);
    assert.equal(start.targetHost, '127.0.0.1');
    assert.equal(start.targetUser, 'teamssh-tgt');
    assert.equal(start.login, 'Alice');
    assert.match(String(start.targetHostKey), /^SHA256:/);
    const end = await h.log.waitFor('session_end', (l) => l.target === 'db1' && l.exitStatus === 7);
    assert.equal(end.targetHostKey, start.targetHostKey);
  });

  test('short commands in a row each get their exit status (output, status and close may arrive in one batch)', async () => {
    for (let i = 0; i < 25; i++) {
      const r = await h.ssh('alice@db1', h.alice, [`exit ${i % 4}`]);
      assert.equal(r.code, i % 4, `run ${i}: ${r.stderr}`);
    }
  });

  test('stdin and EOF reach the target', async () => {
    const r = await h.ssh('alice@db1', h.alice, ['wc -c; echo done'], { input: 'x'.repeat(100_000) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '100000\ndone\n');
  });

  test('a pty shell on the target: env through the allowlist, window change reaches its pty, ^C its foreground', async () => {
    const c = await connect(h.port, 'alice@db1', h.alice);
    try {
      const s = await shell(c, { rows: 24, cols: 80, term: 'xterm' }, { LANG: 'C.UTF-8', JUMPTEST_NOPE: 'x' });
      s.channel.write('echo env-$LANG-${JUMPTEST_NOPE:-unset}; tty\n');
      await s.waitFor(/env-C\.UTF-8-unset/);
      await s.waitFor(/\/dev\/pts\//);
      s.channel.setWindow(33, 101, 0, 0);
      // The remote shell gets SIGWINCH; stty asks the pty itself.
      await waitFor(async () => {
        s.channel.write('stty size\n');
        await new Promise((r) => setTimeout(r, 200));
        return s.out().includes('33 101');
      }, { timeoutMs: 10_000, what: 'the new size on the target pty' });
      s.channel.write('sleep 30\n');
      await new Promise((r) => setTimeout(r, 500));
      // In a pty, ^C is a byte the target's tty turns into SIGINT for its foreground group.
      s.channel.write('\x03');
      await new Promise((r) => setTimeout(r, 300));
      s.channel.write('echo after-sleep-$?\n');
      await s.waitFor(/after-sleep-130/);
      s.channel.write('exit 3\n');
      assert.deepEqual(await s.exit, { code: 3, signal: null });
    } finally {
      c.end();
    }
  });

  test('a signal to an exec session without a pty is carried to the target and its exit signal back', async () => {
    const c = await connect(h.port, 'alice@db1', h.alice);
    try {
      const s = await exec(c, 'echo ready; exec sleep 30');
      await s.waitFor('ready');
      s.channel.signal('TERM');
      assert.deepEqual(await s.exit, { code: null, signal: 'SIGTERM' });
    } finally {
      c.end();
    }
  });

  test('scp -O and rsync through username routing', async () => {
    const src = path.join(h.dir, 'payload.bin');
    await writeFile(src, Buffer.alloc(300_000, 7));
    const common = ['-F', '/dev/null', '-i', h.alice.path, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
    await run('scp', ['-O', '-P', String(h.port), ...common, src, 'alice@db1@127.0.0.1:/tmp/jump-scp.bin'], { timeout: 30_000 });
    const back = path.join(h.dir, 'back.bin');
    await run('scp', ['-O', '-P', String(h.port), ...common, 'alice@db1@127.0.0.1:/tmp/jump-scp.bin', back], { timeout: 30_000 });
    assert.ok((await readFile(back)).equals(await readFile(src)));
    const rsh = ['ssh', '-p', String(h.port), ...common].join(' ');
    await run('rsync', ['-a', '-e', rsh, src, 'alice@db1@127.0.0.1:/tmp/jump-rsync.bin'], { timeout: 30_000 });
    const r = await h.ssh('alice@db1', h.alice, ['cmp /tmp/jump-rsync.bin /tmp/jump-scp.bin && echo same; rm -f /tmp/jump-rsync.bin /tmp/jump-scp.bin']);
    assert.equal(r.stdout, 'same\n', r.stderr);
  });

  test('an unknown target and a target of another team get the same one line', async () => {
    const unknown = await h.ssh('alice@db9', h.alice, ['true']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr.trim(), 'teamssh: no target db9 for you');
    const other = await h.ssh('alice@devonly', h.alice, ['true']);
    assert.equal(other.stderr.trim(), 'teamssh: no target devonly for you');
    const bobs = await h.ssh('bob@db1', bob, ['true']);
    assert.equal(bobs.stderr.trim(), 'teamssh: no target db1 for you');
    const ok = await h.ssh('bob@devonly', bob, ['echo bob-in']);
    assert.equal(ok.stdout, 'bob-in\n', ok.stderr);
    await h.log.waitFor('session_refused', (l) => l.reason === 'no_target' && l.target === 'db9');
  });

  test('a target that is down: one line, logged, the outer connection ends', async () => {
    const t0 = Date.now();
    const r = await h.ssh('alice@down1', h.alice, ['true']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'teamssh: target down1 is unreachable');
    assert.ok(Date.now() - t0 < 10_000);
    await h.log.waitFor('target_unreachable', (l) => l.target === 'down1');
    await h.log.waitFor('session_refused', (l) => l.reason === 'target_unreachable');
  });

  test('a pinned key that does not match: refused before authenticating, both fingerprints logged', async () => {
    const sshdLogBefore = js.target.log().length;
    const r = await h.ssh('alice@badkey', h.alice, ['echo should-not-run']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim(), 'teamssh: target badkey is unavailable');
    const l = await h.log.waitFor('target_host_key_mismatch', (x) => x.target === 'badkey');
    assert.match(String(l.presentedFingerprint), /^SHA256:/);
    assert.equal((l.pinnedFingerprints as string[]).length, 1);
    assert.notEqual((l.pinnedFingerprints as string[])[0], l.presentedFingerprint);
    // The jump key was never offered to a host that is not the pinned one.
    assert.doesNotMatch(js.target.log().slice(sshdLogBefore), /Accepted publickey|Postponed publickey/);
  });

  test('the recording of a jump session holds the target\'s output and names the target', { skip: !hasAsciinema && 'asciinema CLI not installed' }, async () => {
    const r = await h.ssh('alice@db1', h.alice, ['echo recorded-on-$(hostname)-$(whoami)']);
    assert.equal(r.code, 0, r.stderr);
    const end = await h.log.waitFor('session_end', (l) => typeof l.command === 'string' && (l.command as string).startsWith('echo recorded-on'));
    const cast = String(end.recording);
    assert.match((await asciinemaCat(cast)).toString('utf8'), /recorded-on-.*-teamssh-tgt/);
    const header = JSON.parse((await readFile(cast, 'utf8')).split('\n')[0]!) as { title: string };
    assert.match(header.title, /^Alice@db1 via /);
    const sidecar = JSON.parse(await readFile(cast.replace(/\.cast$/, '.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(sidecar.target, 'db1');
    assert.equal(sidecar.targetUser, 'teamssh-tgt');
    assert.match(String(sidecar.targetHostKey), /^SHA256:/);
    assert.ok((await readdir(path.dirname(cast))).length > 0);
  });

  for (const [how, args] of [['with a pty', ['-tt']], ['without a pty', ['-T']]] as const) {
    test(`a client killed mid-session ${how} leaves nothing running on the target`, async () => {
      const marker = how === 'with a pty' ? '4241' : '4242';
      const client = spawnSsh(h.port, 'alice@db1', h.alice, [...args, `sleep ${marker}`]);
      client.stdout.resume();
      client.stderr.resume();
      const running = async () => (await run('pgrep', ['-u', 'teamssh-tgt', '-f', `sleep ${marker}`]).then((r) => r.stdout.trim(), () => '')) !== '';
      await waitFor(running, { timeoutMs: 10_000, what: 'the sleep on the target' });
      client.kill('SIGKILL');
      await waitFor(async () => !(await running()), { timeoutMs: 10_000, what: 'the target session to be gone' });
      await h.log.waitFor('session_end', (l) => l.target === 'db1' && l.command === `sleep ${marker}`);
    });
  }

  test('teamssh kill ends a jump session like a local one', async () => {
    const c = await connect(h.port, 'alice@db1', h.alice);
    try {
      const s = await exec(c, 'echo up; sleep 4243');
      await s.waitFor('up');
      const live = h.server.sessions.all().find((x) => x.command === 'echo up; sleep 4243');
      assert.ok(live, 'the jump session is in the registry');
      assert.equal(live.target, 'db1');
      live.end('killed', 'session ended by an operator');
      const exit = await s.exit;
      assert.notEqual(exit.code, 0);
      await h.log.waitFor('session_end', (l) => l.endReason === 'killed' && l.target === 'db1');
    } finally {
      c.end();
    }
  });

  test('a target that refuses the jump key: one line, logged with the reason', async () => {
    const r = await h.ssh('alice@keyrefused', h.alice, ['true']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "teamssh: target keyrefused refused teamssh's key");
    await h.log.waitFor('target_key_refused', (l) => l.target === 'keyrefused');
  });

  test('teamssh check connects to every target once and reports each', async () => {
    const lines = await checkTargets(h.config);
    const by = (name: string) => lines.find((l) => l.name === `target ${name}`);
    assert.equal(lines.find((l) => l.name === 'jump key')?.ok, true);
    assert.equal(by('db1')?.ok, true, by('db1')?.detail);
    assert.match(by('db1')!.detail, /reachable, host key SHA256:\S+ pinned, jump key accepted/);
    assert.equal(by('devonly')?.ok, true);
    assert.deepEqual([by('down1')?.ok, by('badkey')?.ok, by('keyrefused')?.ok], [false, false, false]);
    assert.match(by('down1')!.detail, /unreachable/);
    assert.match(by('badkey')!.detail, /which is not pinned/);
    assert.match(by('keyrefused')!.detail, /jump key was refused/);
  });
});
