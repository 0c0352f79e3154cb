import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { uploadWorld } from '../support/upload-harness.js';
import { waitFor } from '../support/poll.js';
import { writeRecording } from '../support/recordings.js';

/** Outages, rate limits, timeouts and a refused install id: nothing is lost, nothing sent twice. */

function assertOncePerFile(names: string[], uploaded: Array<{ filename: string }>): void {
  const counts = new Map<string, number>();
  for (const u of uploaded) counts.set(u.filename, (counts.get(u.filename) ?? 0) + 1);
  for (const n of names) assert.equal(counts.get(`${n}.cast`), 1, `${n} uploaded once`);
  assert.equal(uploaded.length, names.length);
}

test('server down for a while, then up: every recording uploaded once, none lost', async () => {
  const w = await uploadWorld();
  try {
    await w.fake.down('refuse');
    const h = await w.start();
    const names = Array.from({ length: 12 }, (_, i) => `out-${i}`);
    for (const n of names) await writeRecording(w.dir, n);
    await new Promise((r) => setTimeout(r, 800));
    assert.ok(w.log.lines.some((l) => l.msg === 'upload failed; will retry' && /ECONNREFUSED/.test(String(l.reason))));
    // Then it accepts connections and drops them.
    await w.fake.up();
    await w.fake.down('destroy');
    await new Promise((r) => setTimeout(r, 400));
    await w.fake.up();
    await w.fake.waitForUploads(names.length, 5000);
    await h.idle();
    assertOncePerFile(names, w.fake.uploads);
    for (const n of names) assert.ok(existsSync(path.join(w.dir, 'uploaded', `${n}.cast`)), `${n} in uploaded/`);
    assert.deepEqual((await fs.readdir(w.dir)).filter((f) => f !== 'uploaded' && f !== 'live'), []);
  } finally {
    await w.close();
  }
});

test('5xx and timeouts are retried until they succeed', async () => {
  const w = await uploadWorld();
  try {
    w.fake.failNext(503, 3);
    w.fake.failNext(500, 2, 'plain text oops');
    const h = await w.start({ concurrency: 1, requestTimeoutMs: 300 });
    await writeRecording(w.dir, 'flaky');
    await w.fake.waitForUploads(1, 5000);
    await h.idle();
    assert.equal(w.fake.requests, 6);
    // A server that never answers in time: the request is abandoned and retried.
    w.fake.slowMs = 600;
    await writeRecording(w.dir, 'slow');
    await waitFor(() => w.log.lines.some((l) => l.recording === 'slow' && l.reason === 'timeout'), { timeoutMs: 5000, what: 'a timeout' });
    w.fake.slowMs = 0;
    await w.fake.waitForUploads(2, 5000);
    await h.idle();
    assertOncePerFile(['flaky', 'slow'], w.fake.uploads);
  } finally {
    await w.close();
  }
});

test('429 with x-ratelimit-reset holds every upload until the reset', async () => {
  const w = await uploadWorld();
  try {
    w.fake.rateLimitNext(1, 2);
    const h = await w.start({ concurrency: 1 });
    const t0 = Date.now();
    await writeRecording(w.dir, 'rl-0');
    await waitFor(() => w.fake.requests >= 1, { timeoutMs: 2000, what: 'first request' });
    await writeRecording(w.dir, 'rl-1');
    await w.fake.waitForUploads(2, 6000);
    await h.idle();
    // The reset is 1–2 s away (epoch seconds are rounded up): nothing is sent before it.
    assert.ok(Date.now() - t0 >= 900, `waited ${Date.now() - t0} ms`);
    assert.equal(w.fake.requests, 3);
    assertOncePerFile(['rl-0', 'rl-1'], w.fake.uploads);
  } finally {
    await w.close();
  }
});

test('401 pauses all uploading with one error line, probes slowly, and resumes once the id is accepted', async () => {
  const w = await uploadWorld({ requireAccounts: true });
  try {
    const h = await w.start({ concurrency: 4 });
    const names = Array.from({ length: 6 }, (_, i) => `auth-${i}`);
    for (const n of names) await writeRecording(w.dir, n);
    await new Promise((r) => setTimeout(r, 1500));
    const paused = w.log.lines.filter((l) => l.event === 'upload_paused');
    assert.equal(paused.length, 1, 'one error line, not one per file');
    assert.equal(paused[0]!.level, 'error');
    assert.match(String(paused[0]!.serverMessage), /account_required/);
    // 4 first attempts in flight at once, then one probe per 300 ms.
    assert.ok(w.fake.requests <= 4 + 6, `probing slowly: ${w.fake.requests} requests in 1.5 s`);
    assert.equal(w.fake.uploads.length, 0);
    const id = (await fs.readFile(path.join(w.stateDir, 'install-id'), 'utf8')).trim();
    w.fake.register(id);
    await w.fake.waitForUploads(names.length, 5000);
    await h.idle();
    assertOncePerFile(names, w.fake.uploads);
    assert.equal(w.log.lines.filter((l) => l.event === 'upload_resumed').length, 1);
    assert.equal(w.log.lines.filter((l) => l.event === 'upload_paused').length, 1);
  } finally {
    await w.close();
  }
});

test('a malformed install id answer (401 unauthenticated) also pauses, and the configured id is used', async () => {
  const w = await uploadWorld();
  try {
    w.fake.failNext(401, 2, { type: 'unauthenticated', message: 'Invalid or missing credentials' });
    const id = '0f8b2a5c-4c1e-4d36-9d6e-2d8c3a1b7e55';
    const h = await w.start({ installId: id, concurrency: 1 });
    await writeRecording(w.dir, 'later');
    await w.fake.waitForUploads(1, 5000);
    await h.idle();
    assert.equal(w.fake.uploads[0]!.installId, id);
    assert.equal(w.log.lines.filter((l) => l.event === 'upload_paused').length, 1);
    assert.ok(!existsSync(path.join(w.stateDir, 'install-id')), 'a configured id is not written to disk');
  } finally {
    await w.close();
  }
});
