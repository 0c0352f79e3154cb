import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Account } from '../../src/launch/account.js';
import { spawnProgram } from '../../src/launch/spawn.js';
import { loginShellArgv0 } from '../../src/launch/launch-args.js';
import type { Program, SpawnOptions } from '../../src/launch/program.js';
import { readProcStat, unixSessionMembers } from '../../src/launch/process-tree.js';
import { ensureTestAccount } from '../support/accounts.js';
import { waitFor } from '../support/poll.js';
import { observe, testEnv } from '../support/session-harness.js';

const PTY = { cols: 80, rows: 24, term: 'xterm' };
let account: Account;
const spawned: Program[] = [];
before(async () => {
  account = await ensureTestAccount('tsshlife');
});
// A failed assertion must not leave a shell behind that keeps the test process alive.
after(() => Promise.all(spawned.map((s) => s.terminate(200))));

function run(file: string, args: string[], pty: boolean, extra: Partial<SpawnOptions> = {}) {
  const s = spawnProgram({ account, allowRoot: false, file, args, env: testEnv(account, pty ? { term: PTY.term } : {}), ...(pty ? { pty: PTY } : {}), ...extra });
  spawned.push(s);
  return { s, o: observe(s) };
}

function interactiveShell() {
  return run(account.shell, [], true, { argv0: loginShellArgv0(account.shell) });
}

const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

const alive = (pid: number) => {
  const st = readProcStat(pid);
  return st !== undefined && st.state !== 'Z';
};

for (const pty of [false, true]) {
  const kind = pty ? 'pty' : 'pipes';

  test(`${kind}: exit status is passed through`, async () => {
    const { o } = run('/bin/bash', ['-c', 'exit 42'], pty);
    assert.deepEqual(await o.exited, { code: 42, signal: null });
  });

  test(`${kind}: death by signal is reported as the signal name`, async () => {
    const { o } = run('/bin/bash', ['-c', 'kill -TERM $$'], pty);
    assert.deepEqual(await o.exited, { code: null, signal: 'TERM' });
  });

  test(`${kind}: a client signal reaches the program`, async () => {
    const { s, o } = run('/bin/sleep', ['30'], pty);
    await waitFor(() => comm(s.pid) === 'sleep' && readProcStat(s.pid)?.state === 'S', { timeoutMs: 5000, what: 'sleep is running' });
    s.signal('INT');
    assert.deepEqual(await o.exited, { code: null, signal: 'INT' });
  });

  test(`${kind}: terminate ends the program, its background job and a double-forked orphan`, async () => {
    // `( sleep & )` double-forks: the sleep is reparented but stays in the session.
    // The last job ignores SIGHUP, so only the SIGKILL after the grace period ends it.
    const script = 'sleep 1000 & ( sleep 1001 & ) ; ( trap "" HUP; exec sleep 1002 ) & echo STARTED; wait';
    const { s, o } = run('/bin/bash', ['-c', script], pty);
    await o.waitFor('STARTED');
    await waitFor(() => unixSessionMembers(s.pid).length >= 4, { timeoutMs: 5000, what: 'shell and three sleeps running' });
    const members = unixSessionMembers(s.pid);
    const started = Date.now();
    await s.terminate(300);
    assert.ok(Date.now() - started >= 250, 'the HUP-ignoring job needed the SIGKILL');
    assert.deepEqual(members.filter(alive), []);
    assert.deepEqual(unixSessionMembers(s.pid), []);
    await o.exited;
  });
}

test('pty: terminate ends jobs an interactive shell put in their own process groups', async () => {
  const { s, o } = interactiveShell();
  s.write(Buffer.from('sleep 1000 &\n( sleep 1001 & )\necho BG-$((40+2))\n'));
  await o.waitFor('BG-42');
  await waitFor(() => unixSessionMembers(s.pid).length >= 3, { timeoutMs: 5000, what: 'shell and two sleeps running' });
  const members = unixSessionMembers(s.pid);
  const groups = new Set(members.map((pid) => readProcStat(pid)?.pgrp));
  assert.ok(groups.size >= 2, 'the job has its own process group');
  await s.terminate(1000);
  assert.deepEqual(members.filter(alive), []);
  assert.deepEqual(await o.exited, { code: null, signal: 'HUP' });
});

test('pty: INT goes to the foreground job, not the shell', async () => {
  const { s, o } = interactiveShell();
  s.write(Buffer.from('sleep 1000\n'));
  // Wait until the shell handed the terminal to the job and the job is really sleep.
  await waitFor(() => {
    const fg = readProcStat(s.pid)?.tpgid ?? -1;
    return fg > 0 && fg !== s.pid && comm(fg) === 'sleep';
  }, { timeoutMs: 5000, what: 'foreground sleep running' });
  s.signal('INT');
  // ^C abandons the rest of a command line in bash, so the marker is sent afterwards.
  await waitFor(() => unixSessionMembers(s.pid).length === 1, { timeoutMs: 5000, what: 'sleep interrupted' });
  s.write(Buffer.from('echo AFTER-$((40+2))\n'));
  await o.waitFor('AFTER-42');
  s.write(Buffer.from('exit 7\n'));
  assert.deepEqual(await o.exited, { code: 7, signal: null });
});

test('pty: resize reaches the terminal; zero sizes are ignored', async () => {
  const { s, o } = interactiveShell();
  s.write(Buffer.from('stty size; echo R1-$((1+1))\n'));
  await o.waitFor('R1-2');
  assert.match(o.stdout(), /[\r\n]24 80\r\n/);
  s.resize(0, 10);
  s.resize(132, 0);
  s.resize(132, 43);
  s.write(Buffer.from('stty size; echo R2-$((1+1))\n'));
  await o.waitFor('R2-2');
  assert.match(o.stdout(), /[\r\n]43 132\r\n/);
  s.endInput(); // ^D at an empty prompt ends the shell
  assert.deepEqual(await o.exited, { code: 0, signal: null });
});

test('pipes: stdout and stderr are kept apart', async () => {
  const { o } = run('/bin/sh', ['-c', 'echo to-out; echo to-err >&2; echo more-out'], false);
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  assert.equal(o.stdout(), 'to-out\nmore-out\n');
  assert.equal(o.stderr(), 'to-err\n');
});

test('pipes: stdin is streamed and EOF ends cat', async () => {
  const { s, o } = run('/bin/cat', [], false);
  s.write(Buffer.from('first line\n'));
  await o.waitFor('first line\n');
  s.write(Buffer.from('second\n'));
  await o.waitFor('second\n');
  s.endInput();
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  assert.equal(o.stdout(), 'first line\nsecond\n');
});

test('pipes: output is drained before exit is reported, even when paused for a while', async () => {
  const { s, o } = run('/bin/sh', ['-c', 'head -c 300000 /dev/zero'], false);
  s.pause();
  await new Promise((r) => setTimeout(r, 1500));
  s.resume();
  await o.exited;
  assert.equal(Buffer.byteLength(o.stdout()), 300000);
});

test('pipes: a background process holding stdout does not keep the session open', async () => {
  const { s, o } = run('/bin/sh', ['-c', 'sleep 1000 & echo started'], false);
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  assert.equal(o.stdout(), 'started\n');
  await s.terminate(200);
});

test('pty: all output is delivered before exit is reported', async () => {
  const { o } = run('/usr/bin/seq', ['1', '50000'], true);
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  const lines = o.stdout().split('\r\n');
  assert.equal(lines[0], '1');
  assert.equal(lines[49999], '50000');
});
