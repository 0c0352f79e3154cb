import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ownCgroup } from '../../src/launch/cgroup-mount.js';
import { ServerCgroups } from '../../src/launch/cgroup.js';
import { waitFor } from '../support/poll.js';

// Session cgroups are made ahead, off the event loop (a cgroupfs mkdir is ~1.4 ms of event loop
// per login under load), and the launch path takes one. These pin that a session really gets
// one made ahead, and that it is as good as a fresh one: empty, usable, removed at the end.

const sessionDirs = (dir: string) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

test('cgroup: sessions after the first take an empty cgroup made ahead; it contains, is killed and removed like a fresh one', async () => {
  const own = ownCgroup();
  assert.ok(own.ok, 'this machine has a writable cgroup v2');
  const cgroups = ServerCgroups.open(own.dir);
  assert.deepEqual(sessionDirs(cgroups.dir), [], 'nothing is made before the first session');

  const first = cgroups.create('first');
  assert.equal(path.basename(first.dir), 'session-first', 'no spare yet: made on the spot, named by the session');
  const ready = await waitFor(() => {
    const names = sessionDirs(cgroups.dir).filter((n) => n !== 'session-first');
    return names.length >= 8 && names;
  }, { what: 'spare session cgroups', detail: () => sessionDirs(cgroups.dir).join(',') });
  // A directory can be on disk a moment before its mkdir's completion reaches the event loop.
  await sleep(100);

  const second = cgroups.create('second');
  assert.ok(ready.includes(path.basename(second.dir)), `${second.dir} was made ahead, not at create()`);
  assert.deepEqual(second.procs(), []);
  assert.equal(second.populated(), false);

  const child = spawn('sleep', ['4445'], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', (_c, sig) => r(sig)));
  try {
    writeFileSync(path.join(second.dir, 'cgroup.procs'), String(child.pid));
    assert.deepEqual(second.procs(), [child.pid]);
    assert.equal(await second.remove(), false, 'a populated cgroup is not removed');
    second.kill();
    assert.equal(await exited, 'SIGKILL');
  } finally {
    child.kill('SIGKILL');
  }
  await waitFor(() => !second.populated(), { what: 'the killed cgroup to empty' });
  assert.equal(await second.remove(), true);
  assert.equal(await first.remove(), true);
  assert.ok(!existsSync(second.dir) && !existsSync(first.dir));

  // At exit the spares go with the server's directory (a refill may still be landing: wait for it).
  await waitFor(() => sessionDirs(cgroups.dir).length >= 8, { what: 'the pool refilled' });
  cgroups.removeIfEmpty();
  assert.ok(!existsSync(cgroups.dir), 'spares and the server directory removed at exit');
});
