import { test } from 'node:test';
import assert from 'node:assert/strict';
import pty, { type IPty } from 'node-pty';
import { readAhead } from '../../src/launch/pty-read-ahead.js';

// A real pty running a real program: what node-pty's data callback hands out, joined by readAhead.

function run(cmd: string): { term: IPty; chunks: Buffer[]; exited: Promise<void> } {
  const term = pty.spawn('/bin/sh', ['-c', cmd], { cols: 80, rows: 24, cwd: '/', env: { PATH: '/usr/bin:/bin' }, encoding: null });
  const fd = (term as unknown as { _fd: number })._fd;
  const chunks: Buffer[] = [];
  term.onData((d: string | Buffer) => chunks.push(readAhead(fd, Buffer.isBuffer(d) ? d : Buffer.from(d))));
  const exited = new Promise<void>((resolve) => term.onExit(() => resolve()));
  return { term, chunks, exited };
}

test('bulk output arrives in pieces larger than one 4 KiB pty read, complete and in order', async () => {
  const { chunks, exited } = run('seq 1 200000');
  await exited;
  const text = Buffer.concat(chunks).toString('latin1');
  const lines = text.split('\r\n').filter((l) => l !== '');
  assert.equal(lines.length, 200000);
  for (let i = 0; i < lines.length; i += 997) assert.equal(lines[i], String(i + 1));
  // Without read-ahead node-pty never hands out more than a pty read (4095 bytes).
  assert.ok(Math.max(...chunks.map((c) => c.length)) > 8192, `largest piece ${Math.max(...chunks.map((c) => c.length))} bytes`);
  assert.ok(chunks.every((c) => c.length <= 64 * 1024));
});

test('a full read with nothing behind it returns at once: a program waiting for input after 4 KiB still gets it', async () => {
  // Exactly one pty read of output, then the program blocks on stdin; a blocking read-ahead would hang here.
  const { term, chunks, exited } = run('head -c 4096 /dev/zero | tr "\\0" x; stty -echo; read line; echo "got $line"');
  const deadline = Date.now() + 10_000;
  while (Buffer.concat(chunks).length < 4096 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 200));
  term.write('hello\r');
  await exited;
  assert.match(Buffer.concat(chunks).toString('latin1'), /^x{4096}[\s\S]*got hello/);
});

test('a short read is passed through untouched', () => {
  const b = Buffer.from('echo');
  // fd -1 would throw if readAhead tried to read: a short read never looks for more.
  assert.equal(readAhead(-1, b), b);
});
