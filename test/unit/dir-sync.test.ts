import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dirSyncer } from '../../src/recording/dir-sync.js';
import { fsyncDir } from '../../src/recording/recordings-dir.js';

/** A sync the test finishes by hand, recording which directory each real sync was for. */
function heldSyncs() {
  const started: string[] = [];
  const finish: Array<(err?: Error) => void> = [];
  const sync = (dir: string) =>
    new Promise<void>((resolve, reject) => {
      started.push(dir);
      finish.push((err) => (err ? reject(err) : resolve()));
    });
  return { started, finish, sync };
}

const tick = () => new Promise((r) => setImmediate(r));

test('a caller that comes while a sync runs waits for the next one; everyone who comes meanwhile shares it', async () => {
  const h = heldSyncs();
  const syncDir = dirSyncer(h.sync);
  let firstDone = false;
  const first = syncDir('/r').then(() => (firstDone = true));
  // Their renames may come after the running sync began: it cannot cover them.
  const late = Array.from({ length: 20 }, () => syncDir('/r'));
  let lateDone = 0;
  for (const p of late) void p.then(() => lateDone++);
  await tick();
  assert.deepEqual(h.started, ['/r'], 'one sync at a time per directory');
  h.finish[0]!();
  await first;
  await tick();
  assert.ok(firstDone);
  assert.equal(lateDone, 0, 'the later callers are not told their renames are durable by the earlier sync');
  assert.deepEqual(h.started, ['/r', '/r'], 'the twenty share one second sync');
  h.finish[1]!();
  await Promise.all(late);
  // Nothing running any more: the next caller starts a sync of its own at once.
  const again = syncDir('/r');
  await tick();
  assert.equal(h.started.length, 3);
  h.finish[2]!();
  await again;
});

test('directories are synced independently, and a failed sync fails exactly its own callers', async () => {
  const h = heldSyncs();
  const syncDir = dirSyncer(h.sync);
  const a = syncDir('/a');
  const b = syncDir('/b');
  const a2 = syncDir('/a');
  await tick();
  assert.deepEqual(h.started, ['/a', '/b']);
  h.finish[0]!(new Error('EIO'));
  await assert.rejects(a, /EIO/);
  await tick();
  assert.deepEqual(h.started, ['/a', '/b', '/a'], 'the waiting caller still gets a sync of its own after a failure');
  h.finish[2]!();
  await a2;
  h.finish[1]!();
  await b;
});

test('fsyncDir syncs a real directory, also many at once', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-dirsync-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await Promise.all(Array.from({ length: 10 }, () => fsyncDir(dir)));
  await assert.rejects(fsyncDir(path.join(dir, 'missing')), { code: 'ENOENT' });
});
