import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIGNED_CRASH_REASON, recoverPartials } from '../../src/recording/recover.js';
import { fingerprintOf, loadSigningKey } from '../../src/recording/signing-key.js';
import { verifyRecording } from '../../src/recording/verify-recording.js';
import { captureLog } from '../support/log-capture.js';

/**
 * kill -9 in each crash window of `Recorder.finish` (the child dies at the rename that ends the
 * window), then recovery: the recording is always kept, with as much of the truth as was on disk.
 */

const CHILD = fileURLToPath(new URL('../support/finish-child.js', import.meta.url));
const OUTCOME = { exitStatus: null, exitSignal: 'SIGHUP', endReason: 'killed', endedAt: '2026-11-29T16:00:00.000Z', killedByUid: 1000 };

interface Crashed {
  dir: string;
  trusted: Buffer[];
  sidecar: Record<string, unknown>;
  top: string[];
  live: string[];
  reason: string;
  log: ReturnType<typeof captureLog>;
}

/**
 * Runs the child until it dies at the rename of a file matching `pattern`, recovers, and hands
 * over what is left. `way`: how the child's recorder makes its small file calls
 * (src/recording/file-calls.ts); by default as the test directory's filesystem says.
 */
async function crashAt(pattern: string, fn: (c: Crashed) => Promise<void>, way?: 'direct' | 'threaded'): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-finish-crash-'));
  await chmod(dir, 0o700);
  try {
    const keyFile = path.join(dir, '..', `${path.basename(dir)}-key`);
    const key = await loadSigningKey(keyFile);
    const child = spawn(process.execPath, [CHILD, dir, 'rec', keyFile, pattern, JSON.stringify(OUTCOME), ...(way ? [way] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
    const signal = await new Promise((r) => child.once('exit', (_code, sig) => r(sig)));
    assert.equal(signal, 'SIGKILL', `the child died at the rename of ${pattern}`);
    const log = captureLog();
    const [result] = await recoverPartials(dir, log.logger);
    assert.equal(result?.name, 'rec', 'the recording was recovered');
    const sidecar = JSON.parse(await readFile(path.join(dir, 'rec.json'), 'utf8')) as Record<string, unknown>;
    const top = (await readdir(dir)).sort();
    const live = await readdir(path.join(dir, 'live'));
    await fn({ dir, trusted: [key.publicBlob], sidecar, top, live, reason: result.reason, log });
    await rm(keyFile, { force: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function outcomeOf(s: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(OUTCOME).map((k) => [k, s[k]]));
}

test('kill -9 between the sidecar\'s write and its rename: the outcome is read back and the recording is complete and verifies', async () => {
  await crashAt('^\\.rec\\.json\\..*\\.tmp$', async ({ dir, trusted, sidecar, top, live, log }) => {
    assert.deepEqual(top, ['live', 'rec.cast', 'rec.cast.sig', 'rec.cast.sig-chain', 'rec.json']);
    assert.deepEqual(live, [], 'the temp is removed once the sidecar holds what it said');
    assert.deepEqual(outcomeOf(sidecar), OUTCOME);
    assert.equal(sidecar.complete, true);
    assert.equal(sidecar.login, 'kim');
    assert.equal(sidecar.signature, 'rec.cast.sig');
    assert.match(String(sidecar.recoveredAt), /^\d{4}-/);
    assert.deepEqual(await verifyRecording(path.join(dir, 'rec.cast'), trusted), { ok: true, line: 'ok (signature, chain of 1 checkpoint, sidecar)' });
    assert.ok(log.lines.some((l) => l.code === 'ERR_REC_RECOVERED' && typeof l.outcomeFrom === 'string'), 'the log says where the outcome came from');
  });
});

for (const way of ['direct', 'threaded'] as const) {
  test(`kill -9 between the sidecar's rename and the recording's: complete, with the outcome (file calls ${way})`, async () => {
    await crashAt('^rec\\.cast\\.part$', async ({ dir, trusted, sidecar, top, live }) => {
      assert.deepEqual(top, ['live', 'rec.cast', 'rec.cast.sig', 'rec.cast.sig-chain', 'rec.json']);
      assert.deepEqual(live, []);
      assert.deepEqual(outcomeOf(sidecar), OUTCOME);
      assert.equal(sidecar.complete, true);
      assert.equal((await verifyRecording(path.join(dir, 'rec.cast'), trusted)).ok, true);
    }, way);
  });
}

for (const [window, pattern] of [
  ['the chain\'s move to the top', '^rec\\.cast\\.sig-chain$'],
  ['the signature\'s write and its rename', '^\\.rec\\.cast\\.sig\\..*\\.tmp$'],
] as const) {
  test(`kill -9 between ${window}: the recording is kept, whole, with its chain and the signature that was written`, async () => {
    await crashAt(pattern, async ({ dir, trusted, sidecar, top, live, reason }) => {
      assert.deepEqual(top, ['live', 'rec.cast', 'rec.cast.sig', 'rec.cast.sig-chain', 'rec.json']);
      assert.deepEqual(live, [], 'no temporary file is left');
      assert.equal(sidecar.login, 'kim');
      assert.equal(sidecar.droppedLines, 0, 'the finish had made the file whole');
      assert.equal(sidecar.complete, false, 'how the session ended was never on disk');
      assert.equal(sidecar.endReason, undefined);
      assert.deepEqual([sidecar.signature, sidecar.signedBy], ['rec.cast.sig', fingerprintOf(trusted[0]!)]);
      assert.equal(reason, SIGNED_CRASH_REASON);
      assert.deepEqual(await verifyRecording(path.join(dir, 'rec.cast'), trusted), { ok: true, line: 'ok (signature, chain of 1 checkpoint, sidecar)' });
    });
  });
}

test('kill -9 between the early sidecar\'s write and its rename, as the session starts: recovery still names the session', async () => {
  await crashAt('^\\.rec\\.part\\.json\\..*\\.tmp$', async ({ sidecar, top, live, reason, log }) => {
    assert.deepEqual(top, ['live', 'rec.cast', 'rec.cast.sig-chain', 'rec.json']);
    assert.deepEqual(live, [], 'the temp is removed once the sidecar holds what it said');
    assert.equal(sidecar.login, 'kim', 'who the session was came from the temp');
    assert.equal(sidecar.sessionId, 's-rec');
    assert.equal(sidecar.complete, false);
    assert.equal(sidecar.endReason, undefined, 'how it ended was never known');
    assert.match(reason, /server stopped before the session ended/);
    assert.ok(!log.lines.some((l) => l.problem !== undefined), 'a whole temp is used, not reported as unusable');
  });
});

