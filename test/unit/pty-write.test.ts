import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';
import { writeToPty } from '../../src/launch/pty-write.js';

// libuv's thread pool has four threads (UV_THREADPOOL_SIZE unset in tests). Opening a FIFO for
// reading blocks its thread until a writer comes, so four such opens fill the pool, as a burst
// of recording writes and directory scans does on a busy server.
async function fillThreadPool(dir: string): Promise<() => Promise<void>> {
  const fifos = [0, 1, 2, 3].map((i) => path.join(dir, `fifo${i}`));
  for (const f of fifos) execFileSync('mkfifo', [f]);
  const opens = fifos.map((f) => open(f, 'r'));
  await new Promise((r) => setTimeout(r, 100));
  return async () => {
    for (const f of fifos) spawn('sh', ['-c', `: > ${f}`], { stdio: 'ignore' });
    for (const fh of await Promise.all(opens)) await fh.close();
  };
}

test('typed input reaches the pty while the thread pool is busy, and in order', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pty-write-'));
  const term = pty.spawn('/bin/sh', ['-c', 'stty raw -echo; echo ready; exec cat'], { cols: 80, rows: 24, cwd: '/', env: { PATH: '/usr/bin:/bin' }, encoding: null });
  let out = '';
  term.onData((d: string | Buffer) => (out += d.toString()));
  const release = await fillThreadPool(dir);
  try {
    const until = async (re: RegExp, ms: number) => {
      const end = Date.now() + ms;
      while (!re.test(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return re.test(out);
    };
    assert.ok(await until(/ready/, 10_000), 'cat started');
    for (const ch of 'abc') writeToPty(term, Buffer.from(ch));
    // Through node-pty's own write (fs.write on the pool) nothing arrives until the pool frees up.
    assert.ok(await until(/abc/, 2000), `echo while the pool is busy: ${JSON.stringify(out)}`);
  } finally {
    await release();
    term.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
