import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FILE_CALLS, fileCallsFor, isLocalFsType, writeNewFile, type FileCalls } from '../../src/recording/file-calls.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-calls-'));
  await chmod(dir, 0o700);
  return dir;
}

/** How many requests `fn` hands to libuv's thread pool (fs requests are FSREQCALLBACK or FSREQPROMISE resources). */
async function poolRequests(fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const hook = createHook({ init: (_id, type) => void ((type === 'FSREQCALLBACK' || type === 'FSREQPROMISE') && n++) }).enable();
  try {
    await fn();
  } finally {
    hook.disable();
  }
  return n;
}

/** One atomic write and its cleanup, as the recorder's bookkeeping does them, without the fsync. */
async function bookkeeping(calls: FileCalls, dir: string): Promise<void> {
  const tmp = path.join(dir, '.a.tmp');
  await writeNewFile(calls, tmp, 'x'.repeat(1000), { durable: false });
  await calls.rename(tmp, path.join(dir, 'a'));
  await calls.unlink(path.join(dir, 'a'));
}

test('local filesystems are told from network and unknown ones by their statfs type', () => {
  for (const local of [0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630]) assert.equal(isLocalFsType(local), true, local.toString(16));
  // NFS, SMB2, CIFS, FUSE (sshfs, virtiofs...), Ceph, 9p, procfs, and a type nobody knows.
  for (const remote of [0x6969, 0xfe534d42, 0xff534d42, 0x65735546, 0x00c36400, 0x01021997, 0x9fa0, 0x12345678]) assert.equal(isLocalFsType(remote), false, remote.toString(16));
});

test('the calls are chosen by the directory\'s filesystem; a directory not made yet gets its parent\'s', async () => {
  const dir = await tempDir();
  try {
    const local = isLocalFsType((await statfs(dir)).type);
    assert.equal((await fileCallsFor(dir)) === FILE_CALLS.direct, local, 'the test directory\'s filesystem decides');
    assert.equal((await fileCallsFor('/proc/self')) === FILE_CALLS.direct, false, 'procfs is not a local disk filesystem');
    assert.equal((await fileCallsFor('/proc/self/no/such/dir')) === FILE_CALLS.direct, false, 'a missing directory under procfs: procfs\'s');
    const later = path.join(dir, 'later', 'deeper');
    assert.equal((await fileCallsFor(later)) === FILE_CALLS.direct, local, 'missing: its parent\'s filesystem');
    await mkdir(later, { recursive: true });
    assert.equal((await fileCallsFor(later)) === FILE_CALLS.direct, local);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('direct calls hand the pool only what waits for the journal or the disk (create, unlink, fsync); threaded ones hand it every call', async () => {
  const dir = await tempDir();
  try {
    // create, write, close, rename, unlink: the create and the unlink.
    assert.equal(await poolRequests(() => bookkeeping(FILE_CALLS.direct, dir)), 2);
    assert.equal(await poolRequests(() => bookkeeping(FILE_CALLS.threaded, dir)), 5);
    await writeNewFile(FILE_CALLS.direct, path.join(dir, 'small'), 'sidecar', { durable: false });
    const reads = async (calls: FileCalls) => {
      await calls.readSmall(path.join(dir, 'small'));
      await calls.size(path.join(dir, 'small'));
      await calls.mkdirs(path.join(dir, 'sub'));
      await calls.close(await calls.openDir(dir));
    };
    assert.equal(await poolRequests(() => reads(FILE_CALLS.direct)), 0);
    assert.ok((await poolRequests(() => reads(FILE_CALLS.threaded))) >= 5);
    // fsync waits for the disk: always in the pool, also for the direct way.
    const fd = await FILE_CALLS.direct.create(path.join(dir, 'f'), 0o600);
    assert.equal(await poolRequests(() => FILE_CALLS.direct.fsync(fd)), 1);
    await FILE_CALLS.direct.close(fd);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const way of ['direct', 'threaded'] as const) {
  test(`${way} calls: whole writes, 0600 new files, and failures as rejections with the errno code`, async () => {
    const calls = FILE_CALLS[way];
    const dir = await tempDir();
    try {
      const big = Buffer.alloc(3 << 20, 'ab');
      const file = path.join(dir, 'new');
      await writeNewFile(calls, file, big);
      assert.deepEqual(await readFile(file), big);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      // Never a synchronous throw: callers chain these calls as promises.
      const exists = calls.create(file, 0o600);
      assert.ok(exists instanceof Promise);
      await assert.rejects(exists, { code: 'EEXIST' });
      await assert.rejects(calls.rename(path.join(dir, 'none'), path.join(dir, 'x')), { code: 'ENOENT' });
      await assert.rejects(calls.unlink(path.join(dir, 'none')), { code: 'ENOENT' });
      await assert.rejects(writeNewFile(calls, path.join(dir, 'missing', 'f'), 'x'), { code: 'ENOENT' });
      assert.deepEqual(await readdir(dir), ['new']);
      assert.deepEqual(await calls.readSmall(file), big);
      assert.equal(await calls.size(file), big.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
