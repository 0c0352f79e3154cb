import { test } from 'node:test';
import { sessionFacts } from '../support/recordings.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Recorder } from '../../src/recording/recorder.js';
import { CRASH_REASON, FINISH_CRASH_REASON, SIGNED_CRASH_REASON, recoverPartials } from '../../src/recording/recover.js';
import { RECORDING_NAMESPACE, loadSigningKey } from '../../src/recording/signing-key.js';
import { armor, signDigest, sshsigHash } from '../../src/recording/sshsig.js';
import { silentLogger } from '../../src/log.js';
import { tempPathFor } from '../../src/recording/temp-files.js';
import { captureLog } from '../support/log-capture.js';
import { validateAsciicast } from '../support/asciicast-validator.js';

const HEADER = '{"version":2,"width":80,"height":24,"timestamp":1800000000,"title":"t","env":{}}\n';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-recover-'));
  await chmod(dir, 0o700);
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function sidecar(dir: string, name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

function sha(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

test('a torn last line is dropped; the recording in live/ is marked incomplete, renamed to the top, valid and names who it was', async () => {
  await withDir(async (dir) => {
    const live = path.join(dir, 'live');
    await mkdir(live);
    await writeFile(path.join(live, 'a.cast.part'), `${HEADER}[0.1, "o", "hello"]\n[0.2, "o", "wor`);
    await writeFile(path.join(live, 'a.part.json'), JSON.stringify({ login: 'alice', sessionId: 's1' }));
    await writeFile(path.join(live, 'a.cast.part.tmp'), 'an interrupted rewrite copy');
    const result = await recoverPartials(dir, silentLogger());
    assert.deepEqual(result, [{ name: 'a', reason: CRASH_REASON }]);
    assert.deepEqual((await readdir(dir)).sort(), ['a.cast', 'a.json', 'live']);
    assert.deepEqual(await readdir(live), []);
    const text = await readFile(path.join(dir, 'a.cast'), 'utf8');
    assert.equal(text, `${HEADER}[0.1, "o", "hello"]\n`);
    assert.deepEqual(validateAsciicast(text), []);
    const s = await sidecar(dir, 'a');
    assert.deepEqual(
      { login: s.login, sessionId: s.sessionId, complete: s.complete, reason: s.reason, file: s.file, events: s.events, bytes: s.bytes, droppedLines: s.droppedLines, version: s.version },
      { login: 'alice', sessionId: 's1', complete: false, reason: CRASH_REASON, file: 'a.cast', events: 1, bytes: Buffer.byteLength(text), droppedLines: 1, version: 2 },
    );
    assert.equal(s.sha256, sha(text));
    assert.equal((await stat(path.join(dir, 'a.json'))).mode & 0o777, 0o600);
  });
});

test('a last line that is only missing its newline is kept; a header-only file gets an event', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'kept.cast.part'), `${HEADER}[0.1, "o", "a"]\n[0.2, "o", "b"]`);
    await writeFile(path.join(dir, 'empty.cast.part'), HEADER);
    await recoverPartials(dir, silentLogger());
    assert.equal(await readFile(path.join(dir, 'kept.cast'), 'utf8'), `${HEADER}[0.1, "o", "a"]\n[0.2, "o", "b"]\n`);
    const empty = await readFile(path.join(dir, 'empty.cast'), 'utf8');
    assert.equal(empty, `${HEADER}[0, "o", ""]\n`);
    assert.deepEqual(validateAsciicast(empty), []);
    assert.equal((await sidecar(dir, 'empty')).events, 1);
    assert.equal((await sidecar(dir, 'kept')).droppedLines, 0);
  });
});

test('garbage inside the file (a power cut can leave zeroed blocks) is dropped, the rest kept in order', async () => {
  await withDir(async (dir) => {
    const body = `${HEADER}[0.1, "o", "a"]\n${'\0'.repeat(4096)}\n[0.05, "o", "earlier"]\n[0.3, "o", "c"]\n[0.4, "o", "d"`;
    await writeFile(path.join(dir, 'g.cast.part'), body);
    await recoverPartials(dir, silentLogger());
    const text = await readFile(path.join(dir, 'g.cast'), 'utf8');
    assert.equal(text, `${HEADER}[0.1, "o", "a"]\n[0.3, "o", "c"]\n`);
    assert.deepEqual(validateAsciicast(text), []);
    const s = await sidecar(dir, 'g');
    assert.equal(s.droppedLines, 3);
    assert.equal(s.sha256, sha(text));
    assert.ok(!(await readdir(dir)).some((f) => f.endsWith('.tmp')));
  });
});

test('a file whose header is torn is kept byte for byte as .cast.corrupt with a sidecar reason', async () => {
  await withDir(async (dir) => {
    const torn = '{"version":2,"width":80,"hei';
    await writeFile(path.join(dir, 'h.cast.part'), torn);
    await writeFile(path.join(dir, 'z.cast.part'), '');
    await writeFile(path.join(dir, 'h.part.json'), JSON.stringify({ login: 'bob' }));
    const result = await recoverPartials(dir, silentLogger());
    assert.equal(result.length, 2);
    assert.match(result[0]!.reason, /header/);
    assert.deepEqual((await readdir(dir)).sort(), ['h.cast.corrupt', 'h.json', 'z.cast.corrupt', 'z.json']);
    assert.equal(await readFile(path.join(dir, 'h.cast.corrupt'), 'utf8'), torn);
    const s = await sidecar(dir, 'h');
    assert.deepEqual(
      { login: s.login, complete: s.complete, corrupt: s.corrupt, file: s.file, sha256: s.sha256 },
      { login: 'bob', complete: false, corrupt: true, file: 'h.cast.corrupt', sha256: sha(torn) },
    );
    assert.match(String(s.reason), /header/);
  });
});

test('an old-layout .part at the top (from before live/) is still recovered, with its early sidecar', async () => {
  await withDir(async (dir) => {
    await mkdir(path.join(dir, 'live'));
    await writeFile(path.join(dir, 'old.cast.part'), `${HEADER}[0.1, "o", "before the upgrade"]\n[0.2, "o", "wor`);
    await writeFile(path.join(dir, 'old.part.json'), JSON.stringify({ login: 'olga', sessionId: 's0' }));
    await writeFile(path.join(dir, 'old.cast.part.tmp'), 'an interrupted rewrite copy');
    const result = await recoverPartials(dir, silentLogger());
    assert.deepEqual(result, [{ name: 'old', reason: CRASH_REASON }]);
    assert.deepEqual((await readdir(dir)).sort(), ['live', 'old.cast', 'old.json']);
    assert.equal(await readFile(path.join(dir, 'old.cast'), 'utf8'), `${HEADER}[0.1, "o", "before the upgrade"]\n`);
    assert.equal((await sidecar(dir, 'old')).login, 'olga');
  });
});

test('live sessions, finished recordings and uploader claims are left alone', async () => {
  await withDir(async (dir) => {
    await mkdir(path.join(dir, 'live'));
    await writeFile(path.join(dir, 'live', 'now.cast.part'), `${HEADER}[0.1, "o", "still typing`);
    await writeFile(path.join(dir, 'live', 'now.part.json'), '{"login":"carol"}');
    await writeFile(path.join(dir, 'live.cast.part'), `${HEADER}[0.1, "o", "still typing`);
    await writeFile(path.join(dir, 'live.part.json'), '{"login":"carol"}');
    await writeFile(path.join(dir, 'done.cast'), `${HEADER}[0.1, "o", "x"]\n`);
    await writeFile(path.join(dir, 'done.json'), '{"complete":true}');
    await writeFile(path.join(dir, 'up.cast.claim.123.abcd'), `${HEADER}[0.1, "o", "x"]\n`);
    const before = (await readdir(dir)).sort();
    const result = await recoverPartials(dir, silentLogger(), (name) => name === 'live' || name === 'now');
    assert.deepEqual(result, []);
    assert.deepEqual((await readdir(dir)).sort(), before);
    assert.deepEqual((await readdir(path.join(dir, 'live'))).sort(), ['now.cast.part', 'now.part.json']);
  });
});

test('a session that finished except for the rename stays complete; a stale early sidecar is cleaned up', async () => {
  await withDir(async (dir) => {
    const text = `${HEADER}[0.1, "o", "bye"]\n`;
    await writeFile(path.join(dir, 'f.cast.part'), text);
    await writeFile(path.join(dir, 'f.json'), JSON.stringify({ login: 'dave', sha256: sha(text), complete: true, events: 1 }));
    await writeFile(path.join(dir, 'old.part.json'), '{"login":"erin"}'); // its recording finished and shipped
    await recoverPartials(dir, silentLogger());
    assert.deepEqual((await readdir(dir)).sort(), ['f.cast', 'f.json']);
    const s = await sidecar(dir, 'f');
    assert.equal(s.complete, true);
    assert.equal(s.login, 'dave');
  });
});

test('a .part whose .cast already exists is not overwritten', async () => {
  await withDir(async (dir) => {
    await mkdir(path.join(dir, 'live'));
    await writeFile(path.join(dir, 'c.cast'), `${HEADER}[0.1, "o", "first"]\n`);
    await writeFile(path.join(dir, 'c.cast.part'), `${HEADER}[0.1, "o", "second"]\n`);
    await writeFile(path.join(dir, 'live', 'c.cast.part'), `${HEADER}[0.1, "o", "third"]\n`);
    const result = await recoverPartials(dir, silentLogger());
    assert.equal(result.length, 2);
    for (const r of result) assert.match(r.reason, /already exists/);
    assert.match(await readFile(path.join(dir, 'c.cast'), 'utf8'), /first/);
    assert.match(await readFile(path.join(dir, 'c.cast.part'), 'utf8'), /second/);
    assert.match(await readFile(path.join(dir, 'live', 'c.cast.part'), 'utf8'), /third/);
  });
});

test('a recorder abandoned mid-session (process died) is recovered with everything it flushed', async () => {
  await withDir(async (dir) => {
    const rec = await Recorder.create({ dir, name: 'r', width: 100, height: 30, timestamp: 1, title: 't', env: {}, recordInput: false, meta: sessionFacts({ login: 'frank' }) });
    rec.output(Buffer.from('before the crash\r\n'));
    await new Promise((r) => setTimeout(r, 250)); // the 100 ms flush
    assert.deepEqual(await readdir(dir), ['live'], 'nothing of a live session at the top');
    const result = await recoverPartials(dir, silentLogger());
    assert.deepEqual(result.map((r) => r.name), ['r']);
    const text = await readFile(path.join(dir, 'r.cast'), 'utf8');
    assert.match(text, /before the crash/);
    assert.deepEqual(validateAsciicast(text), []);
    assert.equal((await sidecar(dir, 'r')).login, 'frank');
    await rec.finish().catch(() => undefined); // the abandoned handle: its rename now fails, which is fine
  });
});

test('temporary files of sidecar and signature writes a crash cut short are removed and logged by name; recordings, a live session\'s and foreign files stay', async () => {
  await withDir(async (dir) => {
    const live = path.join(dir, 'live');
    const done = await Recorder.create({ dir, name: 'done', width: 80, height: 24, timestamp: 1, title: 't', env: {}, recordInput: false, meta: sessionFacts() });
    done.output(Buffer.from('finished\r\n'));
    await done.finish();
    const finished = await Promise.all(['done.cast', 'done.json'].map((f) => readFile(path.join(dir, f))));
    // Named by the writers' own namer (in live/ as this version writes them, at the top as older
    // ones did), and the signature's name from before it had a random part.
    const leftovers = [
      tempPathFor(path.join(dir, 'a.cast.sig'), live),
      tempPathFor(path.join(dir, 'a.json'), live),
      tempPathFor(path.join(live, 'a.part.json')),
      path.join(live, '.b.cast.sig.4242.tmp'),
      path.join(live, '.c.part.json.4242.12345678.tmp'), // a random part of digits only
      tempPathFor(path.join(dir, 'old.json')),
      tempPathFor(path.join(dir, 'old.cast.sig')),
    ];
    for (const f of leftovers) await writeFile(f, 'torn secret');
    const ofLiveSession = [tempPathFor(path.join(dir, 'now.json'), live), tempPathFor(path.join(live, 'now.part.json'))];
    for (const f of ofLiveSession) await writeFile(f, '{}');
    await writeFile(path.join(live, 'now.cast.part'), HEADER);
    // Not the recording side's: a probe of `teamssh check` and somebody else's temporary file.
    const foreign = ['.probe-77-0011aabb', '.notes.123.tmp', '.cast.sig.5.tmp'];
    for (const f of foreign) await writeFile(path.join(dir, f), 'x');
    const log = captureLog();
    assert.deepEqual(await recoverPartials(dir, log.logger, (name) => name === 'now'), []);
    assert.deepEqual((await readdir(dir)).sort(), [...foreign, 'done.cast', 'done.json', 'live'].sort());
    assert.deepEqual((await readdir(live)).sort(), [...ofLiveSession.map((f) => path.basename(f)), 'now.cast.part'].sort());
    assert.deepEqual(await Promise.all(['done.cast', 'done.json'].map((f) => readFile(path.join(dir, f)))), finished, 'a real recording is untouched');
    const logged = log.lines.filter((l) => l.code === 'ERR_REC_LEFTOVER').flatMap((l) => l.files as string[]);
    assert.deepEqual(logged.sort(), leftovers.map((f) => path.basename(f)).sort());
    assert.doesNotMatch(log.text(), /torn secret/);
  });
});

test('lines are cut at their exact bytes: one longer than a read is kept whole, a torn tail ending in \\r is dropped without a stray byte', async () => {
  await withDir(async (dir) => {
    const long = JSON.stringify([0.1, 'o', 'x'.repeat(2.5 * (1 << 20))]);
    const kept = `${HEADER}${long}\n[0.2, "o", "crlf"]\r\n`;
    await writeFile(path.join(dir, 'long.cast.part'), `${kept}[0.3, "o", "torn\r`);
    // The same with a bad line inside: the kept lines are copied to a new file.
    await writeFile(path.join(dir, 'copied.cast.part'), `${HEADER}[0.05, "o", "a"]\ngarbage\n${long}\n[0.2, "o", "crlf"]\r\n[0.3, "o", "torn\r`);
    const result = await recoverPartials(dir, silentLogger());
    assert.deepEqual(result.map((r) => r.reason), [CRASH_REASON, CRASH_REASON]);
    const text = await readFile(path.join(dir, 'long.cast'), 'utf8');
    assert.equal(text.length, kept.length);
    assert.ok(text === kept, 'the kept lines, byte for byte');
    assert.equal((await sidecar(dir, 'long')).events, 2);
    const copied = await readFile(path.join(dir, 'copied.cast'), 'utf8');
    const want = `${HEADER}[0.05, "o", "a"]\n${long}\n[0.2, "o", "crlf"]\r\n`;
    assert.equal(copied.length, want.length);
    assert.ok(copied === want, 'the kept lines of the copy, byte for byte');
    assert.equal((await sidecar(dir, 'copied')).droppedLines, 2);
  });
});

test('a sidecar temp of a finish gives the outcome only when whole and of this session; recovery\'s own measures always win', async () => {
  await withDir(async (dir) => {
    const live = path.join(dir, 'live');
    await mkdir(live);
    const text = `${HEADER}[0.1, "o", "x"]\n`;
    const outcome = { exitStatus: 0, exitSignal: null, endReason: 'exit', endedAt: '2026-11-29T16:00:00.000Z' };
    // The session's sidecar as finish writes it, for bytes other than the ones on disk (a lost tail).
    const other = { login: 'ida', sessionId: 's-ok', file: 'ok.cast', version: 2, sha256: sha('other bytes'), bytes: 999, events: 7, complete: true, commands: [{ at: 0, command: 'ls' }], ...outcome };
    const cases: Array<[string, string]> = [
      ['ok', JSON.stringify(other)],
      ['torn', JSON.stringify({ ...other, file: 'torn.cast', sessionId: 's-torn' }).slice(0, 60)],
      ['elsewhere', JSON.stringify({ ...other, file: 'elsewhere.cast', sessionId: 's-someone-else' })],
      ['typed', JSON.stringify({ ...other, file: 'typed.cast', sessionId: 's-typed', exitStatus: '0' })],
      ['named', JSON.stringify({ ...other, file: 'ok.cast', sessionId: 's-named' })],
    ];
    const temps: string[] = [];
    for (const [name, body] of cases) {
      await writeFile(path.join(live, `${name}.cast.part`), text);
      await writeFile(path.join(live, `${name}.part.json`), JSON.stringify({ login: 'ida', sessionId: `s-${name}` }));
      const t = tempPathFor(path.join(dir, `${name}.json`), live);
      temps.push(path.basename(t));
      await writeFile(t, body);
    }
    const log = captureLog();
    const result = await recoverPartials(dir, log.logger);
    assert.deepEqual(result.map((r) => [r.name, r.reason]), cases.map(([n]) => [n, n === 'ok' ? FINISH_CRASH_REASON : CRASH_REASON]).sort());
    assert.deepEqual(await readdir(live), [], 'every temp is removed, used or not');
    const ok = await sidecar(dir, 'ok');
    assert.deepEqual({ ...ok, recoveredAt: 0 }, {
      login: 'ida', sessionId: 's-ok', ...outcome,
      file: 'ok.cast', sha256: sha(text), bytes: Buffer.byteLength(text), events: 1, duration: 0.1, complete: false, version: 2,
      reason: FINISH_CRASH_REASON, recoveredAt: 0, droppedLines: 0,
    }, 'the outcome is taken; the file facts are recovery\'s, and the commands of other bytes are not');
    for (const [name] of cases.slice(1)) {
      const s = await sidecar(dir, name);
      assert.equal(s.endReason, undefined, `${name}: not read back`);
      assert.equal(s.sessionId, `s-${name}`);
    }
    const unused = log.lines.filter((l) => l.code === 'ERR_REC_LEFTOVER' && l.problem);
    assert.deepEqual(unused.map((l) => [l.recording, l.problem]), [
      ['elsewhere', 'names another session'],
      ['named', 'names another recording'],
      ['torn', 'not JSON (torn)'],
      ['typed', 'field exitStatus has the wrong type'],
    ]);
    assert.deepEqual(log.lines.filter((l) => l.code === 'ERR_REC_LEFTOVER' && l.files).flatMap((l) => l.files as string[]).sort(), temps.sort());
    assert.doesNotMatch(log.text(), /"ls"|ida/, 'nothing of a temp\'s content is logged');
  });
});

test('recovery\'s own sidecar temp at the top (a crash during recovery) is read back like a finish\'s', async () => {
  await withDir(async (dir) => {
    const live = path.join(dir, 'live');
    await mkdir(live);
    const text = `${HEADER}[0.1, "o", "x"]\n`;
    await writeFile(path.join(live, 'r.cast.part'), text);
    const t = tempPathFor(path.join(dir, 'r.json'));
    await writeFile(t, JSON.stringify({ file: 'r.cast', version: 2, sha256: sha(text), bytes: Buffer.byteLength(text), complete: false, reason: FINISH_CRASH_REASON, endReason: 'exit', exitStatus: 2 }));
    await recoverPartials(dir, silentLogger());
    const s = await sidecar(dir, 'r');
    assert.deepEqual([s.endReason, s.exitStatus, s.complete, s.reason], ['exit', 2, false, FINISH_CRASH_REASON]);
    assert.deepEqual((await readdir(dir)).sort(), ['live', 'r.cast', 'r.json']);
  });
});

test('a signature temp is put in place only when whole and over the very bytes recovered; one already in place is reported, never replaced', async () => {
  await withDir(async (dir) => {
    const live = path.join(dir, 'live');
    await mkdir(live);
    const key = await loadSigningKey(path.join(dir, 'key'));
    const text = `${HEADER}[0.1, "o", "x"]\n`;
    const sig = (b: string) => armor(signDigest(key.signer, RECORDING_NAMESPACE, sshsigHash().update(b).digest()));
    const cases: Record<string, string> = { whole: sig(text), torn: sig(text).slice(0, 120), otherBytes: sig('other bytes'), lostTail: sig(text) };
    for (const [name, body] of Object.entries(cases)) {
      await writeFile(path.join(live, `${name}.cast.part`), name === 'lostTail' ? `${text}[0.2, "o", "tor` : text);
      await writeFile(tempPathFor(path.join(dir, `${name}.cast.sig`), live), body);
    }
    // Renamed by the finish already, then its sidecar's temp torn by the crash.
    await writeFile(path.join(live, 'placed.cast.part'), text);
    await writeFile(path.join(dir, 'placed.cast.sig'), sig(text));
    await writeFile(tempPathFor(path.join(dir, 'placed.json'), live), '{"file":"placed.cast","ver');
    // In place but not over these bytes: left as it is for the uploader and `teamssh verify` to report.
    await writeFile(path.join(live, 'stale.cast.part'), text);
    await writeFile(path.join(dir, 'stale.cast.sig'), sig('other bytes'));
    await writeFile(tempPathFor(path.join(dir, 'stale.cast.sig'), live), sig(text));
    const result = await recoverPartials(dir, silentLogger());
    assert.deepEqual(Object.fromEntries(result.map((r) => [r.name, r.reason])), {
      whole: SIGNED_CRASH_REASON, placed: SIGNED_CRASH_REASON, torn: CRASH_REASON, otherBytes: CRASH_REASON, lostTail: CRASH_REASON, stale: CRASH_REASON,
    });
    assert.deepEqual(await readdir(live), []);
    const sigs = (await readdir(dir)).filter((f) => f.endsWith('.sig')).sort();
    assert.deepEqual(sigs, ['placed.cast.sig', 'stale.cast.sig', 'whole.cast.sig']);
    assert.equal(await readFile(path.join(dir, 'whole.cast.sig'), 'utf8'), cases.whole);
    assert.equal(await readFile(path.join(dir, 'stale.cast.sig'), 'utf8'), sig('other bytes'));
    for (const name of ['whole', 'placed']) {
      const s = await sidecar(dir, name);
      assert.deepEqual([s.signature, s.signedBy, s.complete], [`${name}.cast.sig`, key.fingerprint, false]);
    }
    assert.equal((await sidecar(dir, 'torn')).signature, undefined);
  });
});
