import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { Account } from '../../src/launch/account.js';
import { spawnProgram } from '../../src/launch/spawn.js';
import { loginShellArgv0 } from '../../src/launch/launch-args.js';
import type { Program } from '../../src/launch/program.js';
import { ensureTestAccount } from '../support/accounts.js';
import { observe, testEnv, type Observed } from '../support/session-harness.js';

const PTY = { cols: 80, rows: 24, term: 'xterm' };
let alice: Account;
let bob: Account;
let listener: Server;
let sessionA: Program;
let observedA: Observed;

before(async () => {
  alice = await ensureTestAccount('tsshfda');
  bob = await ensureTestAccount('tsshfdb');
  // Like the real server: a listening socket is open in this process.
  listener = createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  // Session A: an interactive login shell in a pty, alive while B starts.
  sessionA = spawnProgram({ account: alice, allowRoot: false, file: alice.shell, args: [], argv0: loginShellArgv0(alice.shell), env: testEnv(alice, { term: 'xterm' }), pty: PTY });
  observedA = observe(sessionA);
  sessionA.write(Buffer.from('echo A-READY-$((6*7))\n'));
  await observedA.waitFor('A-READY-42');
});

after(async () => {
  await sessionA.terminate(500);
  listener.close();
});

/** Parses `ls -l /proc/self/fd` lines into fd → target. */
function parseFdListing(text: string): Map<number, string> {
  const fds = new Map<number, string>();
  for (const m of text.matchAll(/ (\d+) -> (\S+)/g)) fds.set(Number(m[1]), m[2]!);
  return fds;
}

/** The descriptor a directory listing holds on itself is the only extra one allowed. */
function assertOnlyOwn(fds: Map<number, string>, stdio: (target: string) => boolean): void {
  assert.deepEqual([0, 1, 2].filter((fd) => fds.has(fd)), [0, 1, 2], 'stdio present');
  for (const [fd, target] of fds) {
    if (fd <= 2) assert.ok(stdio(target), `fd ${fd} -> ${target} is not the session's own stdio`);
    else assert.match(target, /^\/proc\/\d+\/fd$/, `unexpected fd ${fd} -> ${target}`);
  }
}

test('a pty session started while another is live holds only its own terminal', async () => {
  const s = spawnProgram({ account: bob, allowRoot: false, file: '/bin/ls', args: ['-l', '/proc/self/fd'], env: testEnv(bob, { term: 'xterm' }), pty: PTY });
  const o = observe(s);
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  const fds = parseFdListing(o.stdout());
  const tty = fds.get(0);
  assert.match(tty ?? '', /^\/dev\/pts\/\d+$/);
  assertOnlyOwn(fds, (t) => t === tty);
  assert.doesNotMatch(o.stdout(), /ptmx|socket:|pipe:/);
});

test('a pipe session holds only its own three stdio channels', async () => {
  const s = spawnProgram({ account: bob, allowRoot: false, file: '/bin/ls', args: ['-l', '/proc/self/fd'], env: testEnv(bob) });
  const o = observe(s);
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  const fds = parseFdListing(o.stdout());
  // libuv's stdio "pipes" are socketpairs on Linux: sockets are expected on 0-2 only.
  assertOnlyOwn(fds, (t) => /^(pipe|socket):\[\d+\]$/.test(t));
  assert.notEqual(fds.get(1), fds.get(2), 'stdout and stderr are separate channels');
  assert.doesNotMatch(o.stdout(), /ptmx|\/dev\/pts/);
});

test("the live session's shell holds nothing but its own terminal, seen from outside", async () => {
  // Start another pty session after A, so node-pty had a chance to leak A's master into it
  // and B's into nothing: then inspect A's shell and B's shell through /proc.
  const b = spawnProgram({ account: bob, allowRoot: false, file: bob.shell, args: ['-i'], env: testEnv(bob, { term: 'xterm' }), pty: PTY });
  const ob = observe(b);
  b.write(Buffer.from('echo B-READY-$((6*7))\n'));
  await ob.waitFor('B-READY-42');
  for (const pid of [sessionA.pid, b.pid]) {
    const targets = readdirSync(`/proc/${pid}/fd`).map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
    const tty = readlinkSync(`/proc/${pid}/fd/0`);
    assert.match(tty, /^\/dev\/pts\/\d+$/);
    // bash keeps a copy of its terminal on fd 255; anything else would be a leak.
    assert.deepEqual([...new Set(targets)], [tty], `pid ${pid} holds ${targets.join(', ')}`);
  }
  await b.terminate(500);
});
