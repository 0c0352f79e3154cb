import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Account } from '../../src/launch/account.js';
import { spawnProgram } from '../../src/launch/spawn.js';
import type { Program, SpawnOptions } from '../../src/launch/program.js';
import { chooseContainment, type Containment } from '../../src/launch/containment.js';
import { ownCgroup } from '../../src/launch/cgroup-mount.js';
import { CGROUP_BASE, ServerCgroups } from '../../src/launch/cgroup.js';
import { readProcStat } from '../../src/launch/process-tree.js';
import { ensureTestAccount } from '../support/accounts.js';
import { observe, testEnv } from '../support/session-harness.js';
import { waitFor } from '../support/poll.js';
import { ESCAPES, EscapeKit, escapedAlive, escapedPid, killEscaped } from '../support/escapes.js';

// Each containment gets an account of its own: the process scan ends every process of its
// account that no live session holds, so it must never share one with other tests.
const MODES = [
  { name: 'cgroup', setting: 'cgroup', account: 'tsshcg' },
  { name: 'process scan', setting: 'process-scan', account: 'tsshscan' },
] as const;

const accounts = new Map<string, Account>();
const spawned: Program[] = [];
const escaped = new Set<number>();
let kit: EscapeKit;
let sessionNo = 0;

before(async () => {
  for (const m of MODES) accounts.set(m.account, await ensureTestAccount(m.account));
  kit = await EscapeKit.create();
});
after(async () => {
  await Promise.all(spawned.map((s) => s.terminate(200).catch(() => undefined)));
  killEscaped(escaped);
  await kit.remove();
});

function run(account: Account, containment: Containment, cmd: string, pty: boolean): { s: Program; o: ReturnType<typeof observe> } {
  // A marker of its own per program, as every LiveSession has.
  const env = { ...testEnv(account, pty ? { term: 'xterm' } : {}), TEAMSSH_SESSION_ID: `prog${process.pid}x${++sessionNo}` };
  const opts: SpawnOptions = { account, allowRoot: false, file: '/bin/sh', args: ['-c', cmd], env, containment, ...(pty ? { pty: { cols: 80, rows: 24, term: 'xterm' } } : {}) };
  const s = spawnProgram(opts);
  spawned.push(s);
  return { s, o: observe(s) };
}

async function startedEscape(pidFile: string): Promise<number> {
  const pid = await escapedPid(pidFile);
  escaped.add(pid);
  await waitFor(() => escapedAlive(pid), { what: `escaped process ${pid} runs sleep` });
  return pid;
}

for (const mode of MODES) {
  const containment = () => chooseContainment(mode.setting);
  const account = () => accounts.get(mode.account)!;

  for (const how of ESCAPES) {
    for (const pty of [false, true]) {
      test(`${mode.name}, ${pty ? 'pty' : 'pipes'}: terminate() ends a process left behind by ${how}`, async () => {
        const { cmd, pidFile } = kit.command(how);
        const { s, o } = run(account(), containment(), `${cmd}; echo started; exec sleep 1000`, pty);
        await o.waitFor('started');
        const pid = await startedEscape(pidFile);
        await s.terminate(300);
        assert.equal(escapedAlive(pid), false, `${how}: the escaped process outlived terminate()`);
        await o.exited;
      });
    }

    test(`${mode.name}: after a normal exit, terminate() ends what ${how} left behind`, async () => {
      const { cmd, pidFile } = kit.command(how);
      const { s, o } = run(account(), containment(), `${cmd}; echo started`, false);
      assert.deepEqual(await o.exited, { code: 0, signal: null });
      const pid = await startedEscape(pidFile);
      // What the session layer does once the program has exited.
      await s.terminate(300);
      assert.equal(escapedAlive(pid), false);
    });
  }

  for (const pty of [false, true]) {
    test(`${mode.name}, ${pty ? 'pty' : 'pipes'}: a program ended the moment it was spawned does not start afterwards`, async () => {
      // terminate() before the launcher has joined its cgroup (it joins just before exec): the
      // program must not come up later and live on, outside every session.
      for (let i = 0; i < 5; i++) {
        const { s, o } = run(account(), containment(), 'echo started; exec sleep 4448', pty);
        await s.terminate(200);
        const late = new Promise((_, reject) => setTimeout(() => reject(new Error('the program is still running 5 s after terminate()')), 5000).unref());
        await Promise.race([o.exited, late]);
        assert.equal(readProcStat(s.pid)?.state ?? 'gone', 'gone', 'the program outlived terminate()');
      }
    });
  }

  test(`${mode.name}: ending one session spares another session of the same account`, async () => {
    const a = kit.command('setsid');
    const b = kit.command('setsid');
    const first = run(account(), containment(), `${a.cmd}; echo started; exec sleep 1000`, false);
    await first.o.waitFor('started');
    const keep = await startedEscape(a.pidFile);
    const second = run(account(), containment(), `${b.cmd}; echo started`, true);
    await second.o.exited;
    const gone = await startedEscape(b.pidFile);
    await second.s.terminate(300);
    assert.equal(escapedAlive(gone), false, 'the ended session left its process behind');
    assert.equal(escapedAlive(keep), true, "ending one session killed another session's process");
    assert.ok(readProcStat(first.s.pid), "ending one session killed another session's program");
    await first.s.terminate(300);
    assert.equal(escapedAlive(keep), false);
  });
}

test('cgroup: the program runs in a cgroup of its own, which is removed once the session is over', async () => {
  const own = ownCgroup();
  assert.ok(own.ok, 'this machine has a writable cgroup v2');
  const { s, o } = run(accounts.get('tsshcg')!, chooseContainment('cgroup'), 'cat /proc/self/cgroup', false);
  await o.exited;
  const line = /^0::(.*)$/m.exec(o.stdout())?.[1] ?? '';
  // Named by the session when made on the spot, by random hex when made ahead (cgroup-spares.test.ts).
  assert.match(line, new RegExp(`/${CGROUP_BASE}/server-${process.pid}-\\d+/session-(prog${process.pid}x\\d+|[0-9a-f]{16})$`));
  const dir = path.join(own.mountPoint, line);
  assert.ok(existsSync(dir), 'cgroup exists while the session is not ended');
  await s.terminate(300);
  assert.ok(!existsSync(dir), 'session cgroup removed');
});

test('cgroup: at start, what a dead server left in its cgroups is killed and removed; a live server is left alone', async () => {
  const own = ownCgroup();
  assert.ok(own.ok);
  const base = path.join(own.dir, CGROUP_BASE);
  // pid_max is at most 2^22, so this server cannot be alive.
  const dead = path.join(base, 'server-99999999-1');
  // The test runner that started this file stands in for another live server.
  const liveName = `server-${process.ppid}-${readProcStat(process.ppid)!.startTime}`;
  const live = path.join(base, liveName);
  const victims: number[] = [];
  const put = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    const child = spawn('sleep', ['4444'], { stdio: 'ignore', detached: true });
    victims.push(child.pid!);
    escaped.add(child.pid!);
    writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
    return child;
  };
  const orphan = put(path.join(dead, 'session-orphan'));
  const other = put(path.join(live, 'session-other'));
  const orphanExit = new Promise((r) => orphan.once('exit', (_c, sig) => r(sig)));
  try {
    const opened = ServerCgroups.open(own.dir);
    assert.ok(opened.orphansKilled >= 1);
    assert.equal(await orphanExit, 'SIGKILL');
    await waitFor(() => !existsSync(dead), { what: 'dead server cgroup removed', timeoutMs: 5000 });
    assert.equal(readFileSync(path.join(live, 'session-other', 'cgroup.procs'), 'utf8').trim(), String(other.pid));
  } finally {
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
    for (const d of [path.join(live, 'session-other'), live]) rmdirSync(d);
  }
});
