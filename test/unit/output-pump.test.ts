import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { ServerChannel } from 'ssh2';
import type { Program } from '../../src/launch/program.js';
import { ChunkFanout } from '../../src/launch/process-events.js';
import { OutputPump } from '../../src/session/output-pump.js';

// A channel as ssh2 1.17 shapes one: a writable stream with the client's window in `outgoing`.
function channel(window: number): { ch: ServerChannel; written: Buffer[] } {
  const written: Buffer[] = [];
  const ch = new PassThrough({ highWaterMark: 1 << 20 }) as unknown as ServerChannel & { outgoing: { window: number; state: string } };
  ch.outgoing = { window, state: 'open' };
  const write = ch.write.bind(ch) as (b: Buffer) => boolean;
  ch.write = ((b: Buffer) => (written.push(b), write(b))) as typeof ch.write;
  return { ch, written };
}
const proc = { pause: () => {}, resume: () => {} } as unknown as Program;
const sameMemory = (a: Buffer, b: Buffer) => a.buffer === b.buffer && a.byteOffset === b.byteOffset;

test('a lent chunk goes to the channel as it is when ssh2 packs it at once, and as a copy when the channel would keep it', () => {
  const lent = Buffer.alloc(5, 'hello');
  const open = channel(1 << 20);
  new OutputPump(proc, open.ch, () => undefined).push('out', lent, true);
  assert.equal(open.written[0], lent);
  // The client's window is smaller than the chunk: ssh2 keeps the rest until it reopens.
  const shut = channel(2);
  new OutputPump(proc, shut.ch, () => undefined).push('out', lent, true);
  assert.ok(!sameMemory(shut.written[0]!, lent), 'a chunk the channel keeps was not copied');
  assert.equal(shut.written[0]!.toString(), 'hello');
  // Not lent: never copied.
  new OutputPump(proc, shut.ch, () => undefined).push('out', lent);
  assert.equal(shut.written[1], lent);
});

test('a fanout lends a chunk to borrowers as it is, and gives other listeners and the early queue copies', () => {
  const early = new ChunkFanout();
  const lent = Buffer.alloc(3, 'abc');
  early.lend(lent);
  const queued: Buffer[] = [];
  early.addBorrower((b) => queued.push(b));
  assert.ok(!sameMemory(queued[0]!, lent), 'the queue kept a lent chunk');
  const fan = new ChunkFanout();
  const borrowed: Buffer[] = [];
  const kept: Buffer[] = [];
  fan.addBorrower((b) => borrowed.push(b));
  fan.lend(lent);
  assert.equal(borrowed[0], lent);
  fan.add((b) => kept.push(b));
  fan.lend(lent);
  assert.ok(!sameMemory(kept[0]!, lent), 'a listener got a lent chunk');
  assert.equal(kept[0]!.toString(), 'abc');
});
