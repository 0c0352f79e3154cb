import { test } from 'node:test';
import { sessionFacts } from '../support/recordings.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Recorder, type RecorderOptions } from '../../src/recording/recorder.js';
import { ensureRecordingsDir, recordingName } from '../../src/recording/recordings-dir.js';
import { validateAsciicast } from '../support/asciicast-validator.js';

const GOLDEN = new URL('../../../test/fixtures/recording/golden.cast', import.meta.url);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-rec-'));
  await chmod(dir, 0o700);
  return dir;
}

/** A clock the test moves by hand, in milliseconds. */
function manualClock(): { clock: () => number; set(ms: number): void } {
  let now = 1000;
  return { clock: () => now, set: (ms) => (now = 1000 + ms) };
}

function opts(dir: string, over: Partial<RecorderOptions> = {}): RecorderOptions {
  return { dir, name: 'rec', width: 80, height: 24, timestamp: 1_800_000_000, title: 'alice@host: shell from 192.0.2.1', env: { TERM: 'xterm-256color' }, recordInput: false, ...over };
}

/** The events of a recording as parsed arrays. */
function events(text: string): Array<[number, string, string]> {
  return text.split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as [number, string, string]);
}

test('golden file: header, colours, split character, invalid byte, resize, marker, clamped clock', async () => {
  const dir = await tempDir();
  try {
    const c = manualClock();
    const rec = await Recorder.create(opts(dir, {
      clock: c.clock, command: 'ls --color', title: 'alice@bastion: ls --color from 192.0.2.1',
      env: { TERM: 'xterm-256color', SHELL: '/bin/bash', lower: 'dropped', 'BAD-KEY': 'dropped' },
    }));
    c.set(1.0004);
    rec.output(Buffer.from('\x1b[1;31mred\x1b[0m "quoted" back\\slash\ttab\r\n'));
    c.set(250.5678);
    rec.output(Buffer.from([0x63, 0x61, 0x66, 0xc3])); // "caf" + first byte of é
    c.set(251);
    rec.output(Buffer.from([0xa9, 0x20, 0xff, 0x21, 0x0d, 0x0a])); // rest of é, invalid 0xff
    c.set(1500);
    rec.resize(132, 43);
    c.set(1400); // a clock that goes back must not make time decrease
    rec.marker('idle warning');
    c.set(2000.0000001);
    rec.output('中文 😀\r\n');
    const done = await rec.finish({ exitStatus: 0, exitSignal: null, endReason: "exit", endedAt: "2026-11-23T10:00:02.000Z" });
    const text = await readFile(done.castPath, 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    // Review the diff by eye before committing a regenerated golden file.
    if (process.env.UPDATE_GOLDEN === '1') await writeFile(GOLDEN, text);
    assert.equal(text, await readFile(GOLDEN, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a multi-byte character split across chunks stays one character', async () => {
  const dir = await tempDir();
  try {
    const rec = await Recorder.create(opts(dir));
    const euro = Buffer.from('€'); // e2 82 ac
    const emoji = Buffer.from('😀'); // f0 9f 98 80
    rec.output(euro.subarray(0, 1));
    rec.output(euro.subarray(1));
    rec.output(emoji.subarray(0, 1));
    rec.output(emoji.subarray(1, 2));
    rec.output(emoji.subarray(2));
    const text = await readFile((await rec.finish()).castPath, 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    assert.equal(events(text).map((e) => e[2]).join(''), '€😀');
    assert.doesNotMatch(text, /\ufffd/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('invalid bytes become U+FFFD and the file stays valid JSON, also when a chunk ends mid-character', async () => {
  const dir = await tempDir();
  try {
    const rec = await Recorder.create(opts(dir));
    rec.output(Buffer.from([0x61, 0xff, 0xfe, 0x62, 0xc0, 0xaf]));
    rec.output(Buffer.from([0xe2, 0x82])); // truncated by the end of the session
    const text = await readFile((await rec.finish()).castPath, 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    const out = events(text).map((e) => e[2]).join('');
    assert.equal(out.replace(/\ufffd+/g, '?'), 'a?b?');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the byte escaper writes what JSON.stringify writes, for every ASCII byte and random UTF-8', async () => {
  const dir = await tempDir();
  try {
    const rec = await Recorder.create(opts(dir));
    const ascii = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
    const mixed = Buffer.from(Array.from({ length: 2000 }, () => String.fromCodePoint(Math.floor(Math.random() * 0x2ffff) % 0xd800)).join(''));
    rec.output(ascii);
    rec.output(mixed);
    const text = await readFile((await rec.finish()).castPath, 'utf8');
    const lines = text.split('\n');
    assert.ok(lines[1]!.endsWith(`${JSON.stringify(ascii.toString('utf8'))}]`));
    assert.ok(lines[2]!.endsWith(`${JSON.stringify(mixed.toString('utf8'))}]`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('resize events are COLSxROWS, clamped to what the server accepts', async () => {
  const dir = await tempDir();
  try {
    const rec = await Recorder.create(opts(dir, { width: 1000, height: 0 }));
    rec.resize(100, 30);
    rec.resize(5000, 900);
    const text = await readFile((await rec.finish()).castPath, 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    const header = JSON.parse(text.split('\n')[0]!) as { width: number; height: number };
    assert.deepEqual([header.width, header.height], [720, 24]);
    assert.deepEqual(events(text).map((e) => [e[1], e[2]]), [['r', '100x30'], ['r', '720x200']]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('input is absent by default and recorded when enabled', async () => {
  const dir = await tempDir();
  try {
    const off = await Recorder.create(opts(dir, { name: 'off' }));
    off.input('hunter2\r');
    off.output('ok');
    const on = await Recorder.create(opts(dir, { name: 'on', recordInput: true }));
    on.input(Buffer.from('ls\r'));
    on.output('ok');
    const offText = await readFile((await off.finish()).castPath, 'utf8');
    const onText = await readFile((await on.finish()).castPath, 'utf8');
    assert.doesNotMatch(offText, /hunter2/);
    assert.deepEqual(events(offText).map((e) => e[1]), ['o']);
    assert.deepEqual(events(onText).map((e) => [e[1], e[2]]), [['i', 'ls\r'], ['o', 'ok']]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a session with no output still yields a valid recording with one event', async () => {
  const dir = await tempDir();
  try {
    const rec = await Recorder.create(opts(dir));
    const done = await rec.finish();
    const text = await readFile(done.castPath, 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    // Stamped at the end, so players still show how long the silent session lasted.
    assert.deepEqual(events(text).map((e) => [e[1], e[2]]), [['o', '']]);
    assert.equal(done.events, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('files are 0600, the directory 0700; .cast appears only after finish, after its sidecar; sha256 matches', async () => {
  const root = await tempDir();
  try {
    const dir = path.join(root, 'recordings');
    await ensureRecordingsDir(dir);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const rec = await Recorder.create(opts(dir, { meta: sessionFacts({ login: 'alice', sessionId: 's1' }) }));
    rec.output('hello\r\n');
    assert.equal((await stat(rec.partPath)).mode & 0o777, 0o600);
    assert.equal((await stat(rec.metaPath)).mode & 0o777, 0o600);
    // Live files are in live/: the top, which the uploader watches, holds only the upload queue.
    assert.deepEqual(await readdir(dir), ['live']);
    assert.equal((await stat(path.join(dir, 'live'))).mode & 0o777, 0o700);
    assert.deepEqual((await readdir(path.join(dir, 'live'))).sort(), ['rec.cast.part', 'rec.part.json']);

    const seen: string[] = [];
    const watcher = watch(dir, (_event, file) => file && seen.push(file.toString()));
    const done = await rec.finish({ exitStatus: 0, exitSignal: null, endReason: 'exit', endedAt: '2026-11-23T10:00:02.000Z' });
    await new Promise((r) => setTimeout(r, 100));
    watcher.close();
    assert.ok(seen.includes('rec.json') && seen.includes('rec.cast'), `watch saw ${seen.join(', ')}`);
    assert.ok(seen.indexOf('rec.json') < seen.indexOf('rec.cast'), `sidecar must appear first: ${seen.join(', ')}`);
    assert.ok(!seen.some((f) => f.endsWith('.tmp')), `temporary files stay out of the top: ${seen.join(', ')}`);
    assert.deepEqual((await readdir(dir)).sort(), ['live', 'rec.cast', 'rec.json']);
    assert.deepEqual(await readdir(path.join(dir, 'live')), []);

    const bytes = await readFile(done.castPath);
    const sidecar = JSON.parse(await readFile(done.sidecarPath, 'utf8')) as Record<string, unknown>;
    assert.equal(sidecar.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(sidecar.sha256, done.sha256);
    assert.equal(sidecar.bytes, bytes.length);
    assert.equal(done.bytes, bytes.length);
    assert.deepEqual(
      { login: sidecar.login, sessionId: sidecar.sessionId, exitStatus: sidecar.exitStatus, file: sidecar.file, events: sidecar.events, complete: sidecar.complete, version: sidecar.version },
      { login: 'alice', sessionId: 's1', exitStatus: 0, file: 'rec.cast', events: 1, complete: true, version: 2 },
    );
    assert.equal((await stat(done.castPath)).mode & 0o777, 0o600);
    assert.equal((await stat(done.sidecarPath)).mode & 0o777, 0o600);
    assert.deepEqual(validateAsciicast(bytes), []);
    await assert.rejects(rec.finish(), { code: 'ERR_REC_FINISHED' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('ensureRecordingsDir tightens a loose directory and fails with a stable code', async () => {
  const root = await tempDir();
  try {
    const loose = path.join(root, 'loose');
    await mkdir(loose, { mode: 0o755 });
    await chmod(loose, 0o755);
    await ensureRecordingsDir(loose);
    assert.equal((await stat(loose)).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(loose), ['live'], 'the probe file is removed');
    assert.equal((await stat(path.join(loose, 'live'))).mode & 0o777, 0o700);
    await writeFile(path.join(root, 'file'), 'x');
    await assert.rejects(ensureRecordingsDir(path.join(root, 'file')), { code: 'ERR_REC_DIR' });
    await assert.rejects(ensureRecordingsDir(path.join(root, 'file', 'sub')), { code: 'ERR_REC_DIR' });
    await assert.rejects(Recorder.create(opts(path.join(root, 'missing'))), { code: 'ERR_REC_OPEN' });
    await assert.rejects(stat(path.join(root, 'missing')), { code: 'ENOENT' }, 'a missing recordings directory is not made by the recorder');
    const bare = path.join(root, 'bare');
    await mkdir(bare, { mode: 0o700 });
    await (await Recorder.create(opts(bare))).finish();
    assert.equal((await stat(path.join(bare, 'live'))).mode & 0o777, 0o700, 'a missing live/ is made, private');
    const first = await Recorder.create(opts(loose));
    await assert.rejects(Recorder.create(opts(loose)), { code: 'ERR_REC_OPEN' }, 'an existing .part is never overwritten');
    await first.finish();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('events reach the file within ~100 ms without finish, as whole lines', async () => {
  const dir = await tempDir();
  try {
    const rec = await Recorder.create(opts(dir));
    rec.output('partial-session-output');
    await new Promise((r) => setTimeout(r, 250));
    const text = await readFile(rec.partPath, 'utf8');
    assert.match(text, /partial-session-output/);
    assert.ok(text.endsWith('\n'));
    await rec.finish();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('megabytes in many chunk sizes come out byte for byte; backpressure is signalled and drains', async () => {
  const dir = await tempDir();
  try {
    const rec = await Recorder.create(opts(dir, { highWaterMark: 256 * 1024 }));
    const data = Buffer.from(`${'x'.repeat(70)}\r\n\x1b[32m中文\x1b[0m😀 "q" \\ \t\x07`.repeat(30_000));
    let paused = 0;
    for (let off = 0, i = 0; off < data.length; i++) {
      const size = [1, 7, 4096, 16384, 65536, 300_000][i % 6]!;
      if (!rec.output(data.subarray(off, off + size))) {
        paused++;
        assert.equal(rec.needsDrain, true);
        await rec.drained();
      }
      off += size;
    }
    assert.ok(paused > 0, 'a writer far ahead of the disk is told to pause');
    const done = await rec.finish();
    const text = await readFile(done.castPath, 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    assert.ok(events(text).map((e) => e[2]).join('') === data.toString('utf8'), 'output round-trips exactly');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a full disk mid-session is reported once through onError and finish rejects, leaving the .part', async (t) => {
  const dir = await tempDir();
  try {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      t.skip('cannot mount a small tmpfs here (needs root)');
      return;
    }
    try {
      const rec = await Recorder.create(opts(dir));
      const errors: Array<Error & { code?: string }> = [];
      rec.onError((e) => errors.push(e));
      for (let i = 0; i < 40; i++) rec.output(randomBytes(8192).toString('base64'));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.code, 'ERR_REC_WRITE');
      assert.equal(rec.needsDrain, false, 'a failed recorder never blocks the session');
      await assert.rejects(rec.finish(), { code: 'ERR_REC_WRITE' });
      assert.deepEqual(await readdir(dir), ['live']);
      assert.deepEqual(await readdir(path.join(dir, 'live')), ['rec.cast.part']);
    } finally {
      execFileSync('umount', [dir]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('recordingName sorts by start time, is path-safe and keeps the session id', () => {
  const a = recordingName(new Date('2026-11-23T10:00:00.123Z'), 'alice', 'abc123');
  assert.equal(a, '20261123T100000Z-alice-abc123');
  assert.equal(recordingName(new Date('2026-11-23T10:00:00Z'), '../ev il/', 'x/y'), '20261123T100000Z-ev-il-x-y');
  assert.equal(recordingName(new Date('2026-11-23T10:00:00Z'), '', ''), '20261123T100000Z-unknown-unknown');
  const b = recordingName(new Date('2026-11-23T10:00:01Z'), 'aaron', 'zzz');
  assert.deepEqual([b, a].sort(), [a, b]);
});

test('the validator fails each rule of docs/external-systems.md §3 it checks', () => {
  const H = '{"version":2,"width":80,"height":24}';
  const ok = `${H}\n[0.5, "o", "hi"]\n`;
  assert.deepEqual(validateAsciicast(ok), []);
  assert.deepEqual(validateAsciicast(`${H}\n\n[0.5, "o", "hi"]\n  \n`), [], 'blank lines are allowed');
  const bad: Array<[string, string | Uint8Array, RegExp]> = [
    ['header not first', `[0, "o", "x"]\n${H}\n`, /header must be a JSON object/],
    ['header not JSON', '{"version":2,\n[0, "o", "x"]\n', /not valid JSON/],
    ['version 1', '{"version":1,"width":80,"height":24}\n[0, "o", "x"]\n', /version must be 2/],
    ['width 0', '{"version":2,"width":0,"height":24}\n[0, "o", "x"]\n', /width/],
    ['width 721', '{"version":2,"width":721,"height":24}\n[0, "o", "x"]\n', /width/],
    ['height 201', '{"version":2,"width":80,"height":201}\n[0, "o", "x"]\n', /height/],
    ['height missing', '{"version":2,"width":80}\n[0, "o", "x"]\n', /height/],
    ['fractional timestamp', '{"version":2,"width":80,"height":24,"timestamp":1.5}\n[0, "o", "x"]\n', /timestamp/],
    ['lowercase env key', '{"version":2,"width":80,"height":24,"env":{"term":"x"}}\n[0, "o", "x"]\n', /env key/],
    ['null env value', '{"version":2,"width":80,"height":24,"env":{"SHELL":null}}\n[0, "o", "x"]\n', /env\.SHELL/],
    ['theme missing palette', '{"version":2,"width":80,"height":24,"theme":{"fg":"#ffffff","bg":"#000000"}}\n[0, "o", "x"]\n', /palette is required/],
    ['theme uppercase colour', `{"version":2,"width":80,"height":24,"theme":{"fg":"#FFFFFF","bg":"#000000","palette":"${Array(8).fill('#000000').join(':')}"}}\n[0, "o", "x"]\n`, /theme\.fg/],
    ['event not an array', `${H}\n{"t":0}\n`, /JSON array/],
    ['event not JSON', `${H}\n[0, "o", "x"\n`, /not valid JSON/],
    ['negative time', `${H}\n[-1, "o", "x"]\n`, /number >= 0/],
    ['string time', `${H}\n["0", "o", "x"]\n`, /number >= 0/],
    ['numeric code', `${H}\n[0, 1, "x"]\n`, /code must be a string/],
    ['null data', `${H}\n[0, "o", null]\n`, /data must be a string/],
    ['bad resize', `${H}\n[0, "r", "80,24"]\n`, /COLSxROWS/],
    ['time decreases', `${H}\n[2, "o", "x"]\n[1, "o", "y"]\n`, /before the previous/],
    ['no events', `${H}\n`, /no events/],
    ['gzip', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00]), /gzip/],
    ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00]), /zstd/],
    ['gzip read as text', Buffer.from([0x1f, 0x8b, 0x08, 0x00]).toString('utf8'), /gzip/],
    ['palette of 5 colours', `{"version":2,"width":80,"height":24,"theme":{"fg":"#ffffff","bg":"#000000","palette":"${Array(5).fill('#000000').join(':')}"}}\n[0, "o", "x"]\n`, /palette/],
    ['event with 4 elements', `${H}\n[0, "o", "x", "extra"]\n`, /\[time, code, data\]/],
    ['negative idle_time_limit', '{"version":2,"width":80,"height":24,"idle_time_limit":-1}\n[0, "o", "x"]\n', /idle_time_limit/],
  ];
  for (const [label, text, re] of bad) {
    const problems = validateAsciicast(text);
    assert.ok(problems.some((p) => re.test(p)), `${label}: expected ${re}, got ${JSON.stringify(problems)}`);
  }
});

test('32 KiB chunks reuse the batch buffers instead of allocating one per event', async () => {
  const dir = await tempDir();
  const real = Buffer.allocUnsafeSlow;
  let big = 0;
  try {
    const rec = await Recorder.create(opts(dir));
    const chunk = Buffer.from('1234567\r\n'.repeat(3641)).subarray(0, 32 * 1024);
    Buffer.allocUnsafeSlow = (n: number) => {
      if (n >= 64 * 1024) big++;
      return real(n);
    };
    for (let i = 0; i < 64; i++) {
      rec.output(chunk);
      // Let the writes finish, as a session's event loop would between pty reads.
      if (i % 4 === 3) await new Promise((r) => setTimeout(r, 5));
    }
    Buffer.allocUnsafeSlow = real;
    const text = await readFile((await rec.finish()).castPath, 'utf8');
    assert.equal(events(text).map((e) => e[2]).join(''), chunk.toString().repeat(64));
    // Worst-case room for a 32 KiB chunk is 192 KiB, more than a 128 KiB batch: without the
    // escaping ahead every event sealed early and allocated a batch of its own (64 here).
    assert.ok(big <= 8, `${big} batch-sized allocations for 64 events`);
  } finally {
    Buffer.allocUnsafeSlow = real;
    await rm(dir, { recursive: true, force: true });
  }
});

test('a short session (`ssh host true`) allocates no 128 KiB batch, neither at start nor at finish', async () => {
  const dir = await tempDir();
  const real = Buffer.allocUnsafeSlow;
  const sizes: number[] = [];
  Buffer.allocUnsafeSlow = (n: number) => {
    sizes.push(n);
    return real(n);
  };
  try {
    const rec = await Recorder.create(opts(dir));
    rec.output('done\r\n');
    const text = await readFile((await rec.finish()).castPath, 'utf8');
    assert.deepEqual(events(text).map((e) => e[2]), ['done\r\n']);
    assert.ok(sizes.every((n) => n <= 4096), `allocated ${sizes.join(', ')} bytes for a 6-byte session`);
  } finally {
    Buffer.allocUnsafeSlow = real;
    await rm(dir, { recursive: true, force: true });
  }
});
