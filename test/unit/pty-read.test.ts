import { test } from 'node:test';
import assert from 'node:assert/strict';
import pty from 'node-pty';
import { readPtyReused } from '../../src/launch/pty-read.js';

function spawn(cmd: string) {
  return pty.spawn('/bin/sh', ['-c', cmd], { cols: 80, rows: 24, cwd: '/', env: { PATH: '/usr/bin:/bin' }, encoding: null });
}

test('a pty\'s reads arrive in one reused buffer, complete and in order, and node-pty\'s onData stays silent', async () => {
  const term = spawn('seq 1 100000; sleep 0.2');
  const backing = new Set<ArrayBufferLike>();
  const copies: Buffer[] = [];
  let viaOnData = 0;
  term.onData(() => viaOnData++);
  assert.equal(readPtyReused(term, (chunk) => {
    backing.add(chunk.buffer);
    copies.push(Buffer.from(chunk));
  }), true);
  await new Promise<void>((resolve) => term.onExit(() => resolve()));
  // Without the switch every read has an ArrayBuffer of its own (hundreds here).
  assert.equal(backing.size, 1, `${backing.size} buffers`);
  assert.equal(viaOnData, 0);
  const lines = Buffer.concat(copies).toString('latin1').split('\r\n').filter((l) => l !== '');
  // node-pty may drop a tail at exit (pty-process.ts recovers it): a gapless prefix, most of it.
  assert.ok(lines.length > 90_000, `${lines.length} lines`);
  for (let i = 0; i < lines.length; i += 997) assert.equal(lines[i], String(i + 1));
});

test('pause() stops the reads and resume() starts them again, as it does for onData', async () => {
  const term = spawn('while :; do echo tick; sleep 0.01; done');
  let reads = 0;
  readPtyReused(term, () => reads++);
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await wait(200);
  assert.ok(reads > 0);
  term.pause();
  await wait(50);
  const paused = reads;
  await wait(200);
  assert.equal(reads, paused, 'read while paused');
  term.resume();
  await wait(200);
  assert.ok(reads > paused, 'no reads after resume');
  term.kill();
});
