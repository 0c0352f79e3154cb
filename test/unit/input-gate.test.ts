import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputGate } from '../../src/session/input-gate.js';

test('input typed while echo is off is delivered but never recorded; order is kept; EOF comes after the input', async () => {
  const delivered: string[] = [];
  const recorded: string[] = [];
  let echo = true;
  const gate = new InputGate(
    (b) => delivered.push(b.toString()),
    (b) => recorded.push(b.toString()),
    async () => {
      await new Promise((r) => setTimeout(r, 5));
      return echo;
    },
  );
  gate.push(Buffer.from('ls\r'));
  await new Promise((r) => setTimeout(r, 20));
  echo = false;
  gate.push(Buffer.from('hunter2'));
  gate.push(Buffer.from('\r'));
  let ended = false;
  gate.end(() => {
    ended = true;
    delivered.push('EOF');
  });
  assert.equal(ended, false, 'EOF waits for the input before it');
  await new Promise((r) => setTimeout(r, 40));

  assert.equal(delivered.join(''), 'ls\rhunter2\rEOF');
  assert.deepEqual(recorded, ['ls\r']);
});

test('a failing echo probe counts as echo off; without a terminal or without input recording there is no wait', async () => {
  const recorded: string[] = [];
  const failing = new InputGate(() => {}, (b) => recorded.push(b.toString()), () => Promise.reject(new Error('probe gone')));
  failing.push(Buffer.from('secret'));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(recorded, []);
  const delivered: string[] = [];
  const fromPipe: string[] = [];
  new InputGate((b) => delivered.push(b.toString()), (b) => fromPipe.push(b.toString()), null).push(Buffer.from('pipe'));
  new InputGate((b) => delivered.push(b.toString()), null, () => Promise.resolve(true)).push(Buffer.from('unrecorded'));
  assert.deepEqual(delivered, ['pipe', 'unrecorded'], 'delivered at once');
  assert.deepEqual(fromPipe, ['pipe']);
});
