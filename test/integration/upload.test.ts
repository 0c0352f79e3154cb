import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { uploadWorld } from '../support/upload-harness.js';
import { waitFor } from '../support/poll.js';
import { readJson, writeRecording } from '../support/recordings.js';
import { startUploader } from '../../src/upload/uploader.js';
import { captureLog } from '../support/log-capture.js';

/** The uploader's main path: one recording goes up quickly, with the right request and sidecar. */

test('a finished recording is uploaded within 2 s, sidecar updated, moved to uploaded/, audited', async () => {
  const w = await uploadWorld();
  try {
    const h = await w.start();
    const t0 = Date.now();
    const rec = await writeRecording(w.dir, 'rec-one', { title: 'alice on prod' });
    const [u] = await w.fake.waitForUploads(1, 2000);
    assert.ok(Date.now() - t0 < 2000, `uploaded after ${Date.now() - t0} ms`);
    await h.idle();
    assert.equal(u!.path, '/api/v1/recordings');
    assert.equal(u!.field, 'file');
    assert.equal(u!.filename, 'rec-one.cast');
    assert.equal(u!.sha256, rec.sha256);
    assert.equal(u!.visibility, 'private', 'private unless configured otherwise');
    assert.equal(u!.fields.visibility, 'private');
    assert.equal(u!.fields.title, 'alice on prod');
    assert.match(u!.fields.description!, /s-rec-one/);
    assert.match(u!.fields.description!, /alice \(team ops\)/);
    assert.match(u!.fields.description!, /SHA256:abc/);
    assert.match(u!.fields.description!, /192\.0\.2\.7/);
    assert.equal(u!.accept, 'application/json');
    assert.match(u!.userAgent!, /^teamssh\/0\.1\.0-test /);
    assert.equal(u!.username, '');
    const id = (await fs.readFile(path.join(w.stateDir, 'install-id'), 'utf8')).trim();
    assert.equal(u!.installId, id);
    assert.equal(h.connectUrl, `${w.fake.baseUrl}/connect/${id}`);

    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'rec-one.json')), { timeoutMs: 2000, what: 'move' });
    assert.ok(existsSync(path.join(w.dir, 'uploaded', 'rec-one.cast')));
    assert.ok(!existsSync(rec.castPath) && !existsSync(rec.sidecarPath));
    const side = await readJson(path.join(w.dir, 'uploaded', 'rec-one.json'));
    assert.equal(side.url, u!.url);
    assert.ok(typeof side.uploadedAt === 'string');
    assert.equal(side.login, 'alice', 'recorder fields are kept');

    const audit = w.log.lines.filter((l) => l.event === 'recording_uploaded');
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.sessionId, 's-rec-one');
    assert.equal(audit[0]!.url, u!.url);
    assert.equal(audit[0]!.sha256, rec.sha256);
    // The install id is a credential: only the connect line may carry it.
    const withId = w.log.lines.filter((l) => JSON.stringify(l).includes(id));
    assert.equal(withId.length, 1);
    assert.equal(withId[0]!.event, 'upload_connect');
    assert.equal(withId[0]!.level, 'info');
  } finally {
    await w.close();
  }
});

test('the backlog left from before start is uploaded; .part files and live/ are left alone', async () => {
  const w = await uploadWorld();
  try {
    for (let i = 0; i < 5; i++) await writeRecording(w.dir, `old-${i}`);
    await fs.writeFile(path.join(w.dir, 'live.cast.part'), '{"version":2,"width":80,"height":24}\n');
    // Nothing in live/ is a recording to upload, even a name that ends in .cast.
    await writeRecording(path.join(w.dir, 'live'), 'inside');
    const h = await w.start({ visibility: 'unlisted', username: 'ops-bot', keepUploaded: false });
    await w.fake.waitForUploads(5, 3000);
    await h.idle();
    assert.equal(w.fake.uploads.length, 5);
    assert.ok(w.fake.uploads.every((u) => u.visibility === 'unlisted' && u.username === 'ops-bot'));
    assert.ok(existsSync(path.join(w.dir, 'live.cast.part')));
    assert.ok(existsSync(path.join(w.dir, 'live', 'inside.cast')));
    assert.ok(!existsSync(path.join(w.dir, 'uploaded', 'inside.json')));
    // keepUploaded=false: the cast is deleted, the sidecar kept.
    assert.ok(!existsSync(path.join(w.dir, 'uploaded', 'old-0.cast')));
    assert.ok(existsSync(path.join(w.dir, 'uploaded', 'old-0.json')));
  } finally {
    await w.close();
  }
});

test('a legacy server (404 on the modern path) is used through /api/asciicasts with field asciicast, remembered', async () => {
  const w = await uploadWorld({ legacyOnly: true, textResponses: true });
  try {
    const h = await w.start({ concurrency: 1 });
    for (let i = 0; i < 3; i++) await writeRecording(w.dir, `leg-${i}`);
    await w.fake.waitForUploads(3, 3000);
    await h.idle();
    assert.ok(w.fake.uploads.every((u) => u.path === '/api/asciicasts' && u.field === 'asciicast'));
    // The first attempt tries the modern path once; afterwards only the legacy one.
    assert.equal(w.fake.requests, 3);
    const side = await readJson(path.join(w.dir, 'uploaded', 'leg-0.json'));
    assert.match(String(side.url), /\/a\/\d+$/, 'URL taken from the text/plain body');
  } finally {
    await w.close();
  }
});

test('422 moves the recording to failed/ with the server reason; other files keep flowing', async () => {
  const w = await uploadWorld();
  try {
    const h = await w.start();
    await writeRecording(w.dir, 'bad', { raw: '{"version":2,"width":80,"height":24}\n' }); // no events
    await writeRecording(w.dir, 'good');
    await waitFor(() => existsSync(path.join(w.dir, 'failed', 'bad.json')), { timeoutMs: 3000, what: 'failed/' });
    await h.idle();
    assert.ok(existsSync(path.join(w.dir, 'failed', 'bad.cast')));
    const side = await readJson(path.join(w.dir, 'failed', 'bad.json'));
    const failure = side.failure as Record<string, unknown>;
    assert.equal(failure.status, 422);
    assert.equal(failure.type, 'validation_failed');
    assert.deepEqual(failure.details, [{ field: 'events', message: 'the recording has no events' }]);
    assert.ok(w.log.lines.some((l) => l.level === 'error' && l.code === 'ERR_UPLOAD_REJECTED'));
    assert.equal(w.fake.uploads.length, 1);
    assert.equal(w.fake.uploads[0]!.filename, 'good.cast');
  } finally {
    await w.close();
  }
});

test('403 upload_limit_reached is permanent too', async () => {
  const w = await uploadWorld({ uploadLimit: 0 });
  try {
    const h = await w.start();
    await writeRecording(w.dir, 'over');
    await waitFor(() => existsSync(path.join(w.dir, 'failed', 'over.json')), { timeoutMs: 3000, what: 'failed/' });
    await h.idle();
    const failure = (await readJson(path.join(w.dir, 'failed', 'over.json'))).failure as Record<string, unknown>;
    assert.equal(failure.status, 403);
    assert.equal(failure.type, 'upload_limit_reached');
  } finally {
    await w.close();
  }
});

test('no server configured: the uploader does not start and says so; recordings stay', async () => {
  const log = captureLog();
  const w = await uploadWorld();
  try {
    await writeRecording(w.dir, 'stays');
    const h = await startUploader({ ...w.options(), serverUrl: '', logger: log.logger });
    await new Promise((r) => setTimeout(r, 300));
    await h.stop();
    assert.equal(h.connectUrl, '');
    assert.ok(existsSync(path.join(w.dir, 'stays.cast')));
    assert.ok(log.lines.some((l) => l.event === 'upload_disabled' && /no asciinema server configured/.test(String(l.msg))));
    assert.equal(w.fake.requests, 0);
  } finally {
    await w.close();
  }
});

test('a local error keeps the recording in place, rests it (no spinning), and retries it later', async () => {
  const w = await uploadWorld();
  try {
    const rec = await writeRecording(w.dir, 'local');
    await fs.rm(rec.sidecarPath);
    await fs.mkdir(rec.sidecarPath); // reading the sidecar now fails with EISDIR
    const h = await w.start({ backoff: { baseMs: 20, maxMs: 1000, unauthorizedMs: 300 } });
    await waitFor(() => w.log.lines.some((l) => l.code === 'ERR_UPLOAD_LOCAL'), { timeoutMs: 3000, what: 'the local error' });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(w.log.lines.filter((l) => l.code === 'ERR_UPLOAD_LOCAL').length, 1, 'rests instead of spinning');
    assert.ok(existsSync(rec.castPath), 'released: still NAME.cast');
    await fs.rmdir(rec.sidecarPath);
    await w.fake.waitForUploads(1, 3000);
    await h.idle();
    assert.ok(w.log.lines.some((l) => l.code === 'ERR_UPLOAD_NO_SIDECAR'), 'uploaded without a sidecar, and said so');
    const side = await readJson(path.join(w.dir, 'uploaded', 'local.json'));
    assert.equal(side.sha256, rec.sha256, 'a fresh sidecar records what was uploaded');
  } finally {
    await w.close();
  }
});
