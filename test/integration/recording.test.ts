import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { startHarness, type Harness } from '../support/teamssh.js';
import { connect, exec, shell } from '../support/ssh2-client.js';
import { asciinemaCat } from '../support/asciinema-cat.js';

let h: Harness;
before(async () => {
  h = await startHarness({ env: { TEAMSSH_RECORD_INPUT: 'false' } });
});
after(() => h?.close());

/** The finished recording of the session that `session_end` describes, with its sidecar. */
async function recordingOf(end: Record<string, unknown>): Promise<{ text: string; lines: unknown[][]; header: Record<string, unknown>; sidecar: Record<string, unknown>; file: string }> {
  assert.equal(typeof end.recording, 'string', 'session_end names its recording');
  assert.match(String(end.sha256), /^[0-9a-f]{64}$/, 'session_end carries the recording hash');
  const file = String(end.recording);
  const text = await readFile(file, 'utf8');
  const [head, ...rest] = text.trimEnd().split('\n');
  const sidecar = JSON.parse(await readFile(file.replace(/\.cast$/, '.json'), 'utf8')) as Record<string, unknown>;
  return { text, header: JSON.parse(head!) as Record<string, unknown>, lines: rest.map((l) => JSON.parse(l) as unknown[]), sidecar, file };
}

test('replaying the recording with the real asciinema CLI gives exactly what the ssh client printed', async () => {
  // Colours, wide characters, and 漢 split across two writes with a pause between them.
  const script = [
    "printf '\\033[1;31mred\\033[0m \\033[38;5;208morange\\033[0m 中文 한국어 😀👍🏽\\n'",
    "printf 'split: \\346\\274'",
    'sleep 0.3',
    "printf '\\242 done\\n'",
  ].join('; ');
  const r = await h.ssh('alice', h.alice, ['-tt', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /split: 漢 done/);
  const end = await h.log.waitFor('session_end', (l) => String(l.command).includes('split'));
  const rec = await recordingOf(end);
  assert.doesNotMatch(rec.text, /\ufffd/);
  const printed = await asciinemaCat(rec.file);
  assert.equal(printed.toString('utf8'), r.stdout);
});

test('a command session without a pty records stdout and stderr; the header, sidecar and audit log agree', async () => {
  const r = await h.ssh('alice', h.alice, ['echo to-stdout; echo to-stderr >&2']);
  assert.equal(r.code, 0);
  const end = await h.log.waitFor('session_end', (l) => String(l.command).includes('to-stdout'));
  const rec = await recordingOf(end);
  const output = rec.lines.filter((l) => l[1] === 'o').map((l) => l[2]).join('');
  assert.match(output, /to-stdout/);
  assert.match(output, /to-stderr/);
  assert.equal(rec.header.version, 2);
  assert.equal(rec.header.width, 80);
  assert.equal(rec.header.height, 24);
  assert.equal(rec.header.command, 'echo to-stdout; echo to-stderr >&2');
  assert.ok(Number.isInteger(rec.header.timestamp));
  assert.match(String(rec.header.title), /Alice@.*127\.0\.0\.1/);
  for (const v of Object.values(rec.header.env as Record<string, unknown>)) assert.equal(typeof v, 'string');
  const sha = createHash('sha256').update(await readFile(rec.file)).digest('hex');
  assert.equal(rec.sidecar.sha256, sha);
  assert.equal(end.sha256, sha);
  for (const f of ['login', 'team', 'fingerprint', 'remoteAddress', 'sessionId', 'account', 'exitStatus', 'endReason', 'teamsshVersion']) {
    assert.ok(rec.sidecar[f] !== undefined && rec.sidecar[f] !== null, `sidecar lacks ${f}`);
  }
  assert.equal(rec.sidecar.complete, true);
  assert.equal((await stat(rec.file)).mode & 0o777, 0o600);
  assert.equal((await stat(h.config.recordings.dir)).mode & 0o777, 0o700);
});

test('window changes are recorded as "r" events and typed input is absent by default', async () => {
  const c = await connect(h.port, 'alice', h.alice);
  try {
    const s = await shell(c, { rows: 24, cols: 80, term: 'xterm' });
    s.channel.write('echo typed-secret-$((6*7))\n');
    await s.waitFor('typed-secret-42');
    s.channel.setWindow(33, 101, 0, 0);
    await new Promise((r) => setTimeout(r, 100));
    s.channel.write('exit\n');
    await s.exit;
  } finally {
    c.end();
  }
  const end = await h.log.waitFor('session_end', (l) => l.kind === 'shell');
  const rec = await recordingOf(end);
  assert.ok(rec.lines.some((l) => l[1] === 'r' && l[2] === '101x33'), 'resize event');
  assert.ok(!rec.lines.some((l) => l[1] === 'i'), 'no input events by default');
});

test('a session with no output still yields a recording with an event', async () => {
  const r = await h.ssh('alice', h.alice, ['true']);
  assert.equal(r.code, 0);
  const end = await h.log.waitFor('session_end', (l) => l.command === 'true');
  const rec = await recordingOf(end);
  assert.ok(rec.lines.length >= 1);
});

test('recordings are named so they sort by time and say whose they are', async () => {
  await h.ssh('alice', h.alice, ['echo named']);
  const end = await h.log.waitFor('session_end', (l) => l.command === 'echo named');
  const names = (await readdir(h.config.recordings.dir)).filter((f) => f.endsWith('.cast'));
  assert.ok(names.includes(path.basename(String(end.recording))), 'its own recording is among them');
  for (const n of names) assert.match(path.basename(n), /^\d{8}T\d{6}Z-Alice-[0-9a-f]+\.cast$/);
});

test('input is recorded when enabled', async () => {
  const h2 = await startHarness({ env: { TEAMSSH_RECORD_INPUT: 'true' } });
  try {
    const c = await connect(h2.port, 'alice', h2.alice);
    const o = await exec(c, 'cat');
    o.channel.end('typed-input\n');
    await o.exit;
    c.end();
    const end = await h2.log.waitFor('session_end');
    const rec = await recordingOf(end);
    assert.ok(rec.lines.some((l) => l[1] === 'i' && String(l[2]).includes('typed-input')));
  } finally {
    await h2.close();
  }
});
