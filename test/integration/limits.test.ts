import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir } from 'node:fs/promises';
import { startHarness } from '../support/teamssh.js';
import { connect, exec, shell } from '../support/ssh2-client.js';
import { waitFor } from '../support/poll.js';

test('idle timeout ends a silent session with a one-line message and says why in the audit log', async () => {
  const h = await startHarness({ env: { TEAMSSH_IDLE_TIMEOUT: '1' } });
  try {
    const c = await connect(h.port, 'alice', h.alice);
    const s = await shell(c);
    s.channel.write('echo ready\n');
    await s.waitFor('ready');
    await s.exit;
    assert.match(s.out(), /teamssh: idle for 1s; session closed/);
    const end = await h.log.waitFor('session_end', (l) => l.endReason === 'idle_timeout');
    assert.equal(end.exitSignal, 'HUP');
    c.end();
  } finally {
    await h.close();
  }
});

test('maximum duration ends a busy session', async () => {
  const h = await startHarness({ env: { TEAMSSH_MAX_SESSION_DURATION: '1' } });
  try {
    const c = await connect(h.port, 'alice', h.alice);
    const o = await exec(c, 'while true; do echo tick; sleep 0.2; done');
    const { code, signal } = await o.exit;
    assert.ok(code !== 0 || signal, 'the session must not end successfully');
    assert.match(o.err(), /maximum session duration \(1s\) reached/);
    await h.log.waitFor('session_end', (l) => l.endReason === 'max_duration');
    c.end();
  } finally {
    await h.close();
  }
});

test('sessions per login are capped', async () => {
  const h = await startHarness({ env: { TEAMSSH_MAX_SESSIONS_PER_LOGIN: '1' } });
  try {
    const c = await connect(h.port, 'alice', h.alice);
    const first = await shell(c);
    first.channel.write('echo one\n');
    await first.waitFor('one');
    const second = await exec(c, 'echo two');
    const r = await second.exit;
    assert.equal(r.code, 1);
    assert.match(second.err(), /too many sessions/);
    first.channel.end();
    c.end();
  } finally {
    await h.close();
  }
});

test('an unwritable recordings directory refuses the session with a message (fail closed)', async () => {
  const h = await startHarness();
  try {
    // Root ignores mode bits, so make the directory unusable by replacing it with a file's worth of nothing.
    await chmod(h.config.recordings.dir, 0o000);
    const { rm, writeFile } = await import('node:fs/promises');
    await rm(h.config.recordings.dir, { recursive: true, force: true });
    await writeFile(h.config.recordings.dir, 'not a directory');
    const r = await h.ssh('alice', h.alice, ['echo should-not-run']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /recording unavailable/);
    await h.log.waitFor('session_refused', (l) => l.reason === 'recording_failed');
  } finally {
    const { rm } = await import('node:fs/promises');
    await rm(h.config.recordings.dir, { force: true });
    await h.close();
  }
});

test('a recording exists for every session that ran', async () => {
  const h = await startHarness();
  try {
    await h.ssh('alice', h.alice, ['echo a']);
    await h.ssh('alice', h.alice, ['echo b']);
    // The client gets its exit status first; the recording is final by the session_end record.
    const ends = () => h.log.events('session_end').length;
    await waitFor(() => ends() >= 2, { timeoutMs: 5000, what: 'two session_end records' });
    assert.equal(ends(), 2);
    const casts = (await readdir(h.config.recordings.dir)).filter((f) => f.endsWith('.cast'));
    assert.equal(casts.length, 2);
  } finally {
    await h.close();
  }
});

test('with fail-open chosen, an unrecordable session runs and is logged loudly as unrecorded', async () => {
  const { rm, writeFile } = await import('node:fs/promises');
  const h = await startHarness({ env: { TEAMSSH_RECORDING_FAIL_OPEN: 'true' } });
  try {
    await rm(h.config.recordings.dir, { recursive: true, force: true });
    await writeFile(h.config.recordings.dir, 'not a directory');
    const r = await h.ssh('alice', h.alice, ['echo ran-unrecorded']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ran-unrecorded\n');
    const l = await h.log.waitFor('recording_failed', (x) => x.unrecorded === true);
    assert.equal(l.level, 'error');
  } finally {
    await rm(h.config.recordings.dir, { force: true });
    await h.close();
  }
});
