import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { asciinemaCat, hasAsciinema } from '../support/asciinema-cat.js';
import { Recorder } from '../../src/recording/recorder.js';
import { validateAsciicast } from '../support/asciicast-validator.js';

test('asciinema cat prints exactly the bytes fed to the recorder (colours, wide characters, split characters)', { skip: !hasAsciinema && 'asciinema CLI not installed' }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-cat-'));
  try {
    await chmod(dir, 0o700);
    const home = path.join(dir, 'home');
    await mkdir(home);
    const rec = await Recorder.create({ dir, name: 'cat', width: 80, height: 24, timestamp: 1_800_000_000, title: 'asciinema cat test', env: { TERM: 'xterm-256color' }, recordInput: false });
    const chunks: Buffer[] = [
      Buffer.from('\x1b[1;31mbold red\x1b[0m \x1b[38;5;208morange\x1b[0m \x1b[48;2;0;0;255mtruecolour bg\x1b[0m\r\n'),
      Buffer.from('wide: 中文字符 한국어 日本語 😀👍🏽 "quotes" \\back\\slash\ttab\x07\r\n'),
    ];
    const split = Buffer.from('split: 漢😀é\r\n');
    // Cut inside 漢 (3 bytes), inside 😀 (4 bytes, cut twice) and inside é (2 bytes).
    const cuts = [8, 10, 12, 13, 16];
    let prev = 0;
    for (const cut of [...cuts, split.length]) {
      chunks.push(split.subarray(prev, cut));
      prev = cut;
    }
    chunks.push(Buffer.from('line without CR\nend'));
    for (const c of chunks) rec.output(c);
    rec.resize(100, 30);
    rec.marker('a marker is not output');
    const done = await rec.finish();
    const text = await readFile(done.castPath, 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    assert.doesNotMatch(text, /\ufffd/, 'no character was torn at a chunk boundary');

    const printed = await asciinemaCat(done.castPath);
    assert.equal(printed.toString('hex'), Buffer.concat(chunks).toString('hex'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
