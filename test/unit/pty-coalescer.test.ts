import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import pty from 'node-pty';
import { COALESCE_MAX, COALESCE_WAIT_MS, PtyCoalescer } from '../../src/launch/pty-coalescer.js';

// A real pty running a real program, its reads joined the way pty-process.ts joins them.
function run(cmd: string, workMs = 0): { write: (s: string) => void; chunks: Buffer[]; handlerMs: number[]; exited: Promise<void> } {
  const term = pty.spawn('/bin/sh', ['-c', cmd], { cols: 80, rows: 24, cwd: '/', env: { PATH: '/usr/bin:/bin' }, encoding: null });
  const chunks: Buffer[] = [];
  const handlerMs: number[] = [];
  const joined = new PtyCoalescer((b) => {
    chunks.push(b);
    // Stands in for the server's work per piece (encrypting, sending, recording).
    for (const until = performance.now() + workMs; performance.now() < until;);
  });
  term.onData((d: string | Buffer) => {
    const t0 = performance.now();
    joined.push(Buffer.isBuffer(d) ? d : Buffer.from(d));
    handlerMs.push(performance.now() - t0);
  });
  const exited = new Promise<void>((resolve) => term.onExit(() => {
    joined.flush();
    resolve();
  }));
  return { write: (s) => term.write(s), chunks, handlerMs, exited };
}

const full = (n: number) => Buffer.alloc(n, 0x61);

test('bulk output arrives in pieces larger than one 4 KiB pty read, complete and in order', async () => {
  // A reader with work to do per piece finds the pty full, as a busy server does; an idle one
  // mostly reads what the kernel just moved over, in short reads that pass straight through.
  const { chunks, exited } = run('seq 1 200000', 1);
  await exited;
  const lines = Buffer.concat(chunks).toString('latin1').split('\r\n').filter((l) => l !== '');
  // node-pty drops a tail at exit (pty-process.ts recovers it); what arrived must be a gapless prefix.
  assert.ok(lines.length > 150_000, `${lines.length} lines`);
  for (let i = 0; i < lines.length; i += 997) assert.equal(lines[i], String(i + 1));
  // Without coalescing node-pty hands out a pty read at a time (4095 bytes, rarely a few joined):
  // ~4 KiB a piece on average here; joined, 20 KiB or more.
  const total = chunks.reduce((n, c) => n + c.length, 0);
  assert.ok(total / chunks.length > 8192, `${chunks.length} pieces for ${total} bytes`);
  assert.ok(chunks.every((c) => c.length <= COALESCE_MAX), 'a piece over the cap');
});

test('a flood never holds the event loop: handling a read takes microseconds, never a wait in the kernel', async () => {
  // Reading the pty from the data callback (the old read-ahead) waited in n_tty_read for the
  // tty flip-buffer worker: a median of ~650 µs per callback here, against ~1 µs now.
  const { chunks, handlerMs, exited } = run('head -c 8000000 /dev/zero | tr "\\0" x');
  await exited;
  assert.ok(Buffer.concat(chunks).length > 7_000_000);
  const sorted = [...handlerMs].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  assert.ok(median < 0.1, `median ${(median * 1000).toFixed(0)} µs per read handled`);
});

test('a full read with nothing behind it goes out within the wait: a program waiting for input after 4 KiB still shows it', async () => {
  const { write, chunks, exited } = run('head -c 4095 /dev/zero | tr "\\0" x; stty -echo; read line; echo "got $line"');
  const deadline = Date.now() + 10_000;
  while (Buffer.concat(chunks).length < 4095 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  write('hello\r');
  await exited;
  assert.match(Buffer.concat(chunks).toString('latin1'), /^x{4095}[\s\S]*got hello/);
});

test('a lone short read (a keystroke echo) is handed on synchronously, untouched', () => {
  const got: Buffer[] = [];
  const joined = new PtyCoalescer((b) => got.push(b));
  joined.push(Buffer.from('e'));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.toString(), 'e');
});

test('what a piece holds is copied: the reader may reuse its buffer as soon as push returns', async () => {
  // pty-read.ts hands every read in one shared buffer; keeping a reference would make a piece
  // show whatever the next read wrote there.
  const got: Buffer[] = [];
  const joined = new PtyCoalescer((b) => got.push(b));
  const reused = Buffer.alloc(4095, 0x61);
  joined.push(reused);
  reused.fill(0x62);
  joined.push(reused.subarray(0, 10));
  reused.fill(0x63, 0, 1);
  joined.push(reused.subarray(0, 1));
  await new Promise((r) => setTimeout(r, COALESCE_WAIT_MS + 20));
  assert.deepEqual(got.map((b) => b.toString()), ['a'.repeat(4095) + 'b'.repeat(10), 'c']);
});

test('a burst is held until a short read ends it, then goes out as one piece in order', () => {
  const got: Buffer[] = [];
  const joined = new PtyCoalescer((b) => got.push(b));
  joined.push(full(4095));
  joined.push(full(4095));
  assert.equal(got.length, 0);
  joined.push(Buffer.from('end'));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.length, 8193);
  assert.equal(got[0]!.subarray(8190).toString(), 'end');
});

test('a burst goes out at the cap, and the timer hands on a full read nothing followed', async () => {
  const got: Buffer[] = [];
  const joined = new PtyCoalescer((b) => got.push(b));
  for (let i = 0; i < 8; i++) joined.push(full(4095));
  assert.deepEqual(got.map((b) => b.length), [8 * 4095]);
  joined.push(full(4095));
  assert.equal(got.length, 1);
  await new Promise((r) => setTimeout(r, COALESCE_WAIT_MS + 20));
  assert.deepEqual(got.map((b) => b.length), [8 * 4095, 4095]);
  // Bigger than one read (node-pty sometimes joins two): still never over the cap.
  joined.push(full(20_000));
  joined.push(full(20_000));
  joined.flush();
  assert.deepEqual(got.slice(2).map((b) => b.length), [20_000, 20_000]);
});
