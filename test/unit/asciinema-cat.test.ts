import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';
import { Recorder } from '../../src/recording/recorder.js';
import { validateAsciicast } from '../support/asciicast-validator.js';

const ASCIINEMA = '/usr/bin/asciinema';

/**
 * `asciinema cat FILE` as an independent reader of our files. It opens /dev/tty (to put it in
 * raw mode), so it runs with a pty as controlling terminal while its stdout goes to a plain
 * file: the pty would otherwise rewrite "\n" as "\r\n" and we compare bytes exactly.
 */
async function asciinemaCat(file: string, home: string): Promise<Buffer> {
  const out = path.join(home, 'cat.out');
  const child = pty.spawn('/bin/sh', ['-c', 'exec "$0" cat "$1" > "$2" 2> "$2.err"', ASCIINEMA, file, out], {
    cols: 80,
    rows: 24,
    cwd: home,
    // HOME in the temp dir: asciinema writes its config and install id there, not into /root.
    env: { HOME: home, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', PYTHONIOENCODING: 'utf-8' },
  });
  const code = await new Promise<number>((resolve) => child.onExit(({ exitCode }) => resolve(exitCode)));
  assert.equal(code, 0, `asciinema cat failed: ${await readFile(`${out}.err`, 'utf8').catch(() => '?')}`);
  return readFile(out);
}

test('asciinema cat prints exactly the bytes fed to the recorder (colours, wide characters, split characters)', { skip: !existsSync(ASCIINEMA) && 'asciinema CLI not installed' }, async () => {
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
    const done = await rec.finish({});
    const text = await readFile(done.castPath, 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    assert.doesNotMatch(text, /\ufffd/, 'no character was torn at a chunk boundary');

    const printed = await asciinemaCat(done.castPath, home);
    assert.equal(printed.toString('hex'), Buffer.concat(chunks).toString('hex'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
