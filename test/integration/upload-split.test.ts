import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { uploadWorld } from '../support/upload-harness.js';
import { waitFor } from '../support/poll.js';
import { readJson, writeRecording } from '../support/recordings.js';
import { validateAsciicast } from '../fakes/asciicast-validate.js';
import type { StoredUpload } from '../fakes/asciinema-server.js';
import { asciinemaCat, hasAsciinema } from '../support/asciinema-cat.js';

/** Recordings over the size limit go up as consecutive valid parts, listed in the sidecar. */

type Event = [number, string, string];

function events(text: string): Event[] {
  return text.split('\n').slice(1).filter((l) => l.trim()).map((l) => JSON.parse(l) as Event);
}

/** Checks the parts are valid, in order, titled N/M, under `limit`, and together hold every event. */
function checkParts(original: string, uploads: StoredUpload[], limit: number, baseTitle: string): void {
  const m = uploads.length;
  assert.ok(m >= 2, `split into ${m} parts`);
  const all: Event[] = [];
  uploads.forEach((u, i) => {
    assert.deepEqual(validateAsciicast(u.body), [], `part ${i + 1} is a valid asciicast`);
    assert.ok(u.body.length <= limit, `part ${i + 1}: ${u.body.length} <= ${limit}`);
    const header = JSON.parse(u.body.toString().split('\n', 1)[0]!) as Record<string, unknown>;
    const suffix = ` (part ${i + 1}/${m})`;
    assert.ok(String(header.title).endsWith(suffix), `header title ${String(header.title)}`);
    assert.ok(String(header.title).length <= 128);
    assert.ok(String(header.title).startsWith(baseTitle.slice(0, 20)));
    assert.equal(u.fields.title, header.title);
    assert.equal(header.width, 80);
    assert.equal(u.filename, `${u.filename.split('-part')[0]}-part${i + 1}.cast`);
    const ev = events(u.body.toString());
    assert.ok(ev.length >= 1);
    assert.equal(ev[0]![0], 0, 'times are rebased to the part start');
    all.push(...ev);
  });
  const orig = events(original);
  assert.deepEqual(all.map((e) => e[2]), orig.map((e) => e[2]), 'every event once, in order');
}

async function checkSidecar(dir: string, name: string, uploads: StoredUpload[]): Promise<void> {
  const side = await readJson(path.join(dir, 'uploaded', `${name}.json`));
  const parts = side.parts as Array<{ url: string; bytes: number }>;
  assert.deepEqual(parts.map((p) => p.url), uploads.map((u) => u.url), 'every part URL, in order');
  assert.deepEqual(parts.map((p) => p.bytes), uploads.map((u) => u.body.length));
  assert.equal(side.url, uploads[0]!.url);
  assert.ok(!existsSync(path.join(dir, '.parts', name)), 'work dir removed');
}

test('a recording over maxBytes is split proactively into valid parts under the limit', async () => {
  const w = await uploadWorld({ maxBytes: 20_000 });
  try {
    const h = await w.start({ maxBytes: 20_000 });
    const title = 'a very long session title that goes on and on '.repeat(4);
    const rec = await writeRecording(w.dir, 'big', { events: 1200, eventChars: 90, title });
    assert.ok(rec.bytes > 100_000);
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'big.json')), { timeoutMs: 10_000, what: 'uploaded/' });
    await h.idle();
    assert.equal(w.fake.requests, w.fake.uploads.length, 'no 413 was needed');
    checkParts(rec.text, w.fake.uploads, 20_000, title);
    await checkSidecar(w.dir, 'big', w.fake.uploads);
    const audit = w.log.lines.filter((l) => l.event === 'recording_uploaded');
    assert.equal(audit.length, 1);
    if (hasAsciinema) {
      // The real asciinema CLI reads every part, and together they print what the original does.
      const outs: Buffer[] = [];
      for (const u of w.fake.uploads) {
        const f = path.join(w.root, `check-${u.id}.cast`);
        await fs.writeFile(f, u.body);
        outs.push(await asciinemaCat(f));
      }
      const orig = path.join(w.root, 'orig.cast');
      await fs.writeFile(orig, rec.text);
      assert.ok(Buffer.concat(outs).equals(await asciinemaCat(orig)), 'parts play back to the original output');
    }
    assert.equal((audit[0]!.parts as string[]).length, w.fake.uploads.length);
  } finally {
    await w.close();
  }
});

test('413 from a server with a smaller limit than configured: split with smaller parts until they fit', async () => {
  const w = await uploadWorld({ maxBytes: 9_000 });
  try {
    const h = await w.start(); // configured limit 8,000,000
    const rec = await writeRecording(w.dir, 'mid', { events: 500, eventChars: 80, title: 'mid-size' });
    await w.fake.waitForUploads(2, 5000);
    await h.idle();
    assert.ok(w.fake.requests > w.fake.uploads.length, 'some requests were refused with 413');
    checkParts(rec.text, w.fake.uploads, 9_000, 'mid-size');
    await checkSidecar(w.dir, 'mid', w.fake.uploads);
  } finally {
    await w.close();
  }
});

test('a split interrupted after some parts resumes with the rest (progress is in the sidecar)', async () => {
  const w = await uploadWorld({ maxBytes: 20_000 });
  try {
    const rec = await writeRecording(w.dir, 'resume', { events: 600, eventChars: 90, title: 'resumed' });
    // First run: stop right after the first part is stored.
    const h1 = await w.start({ maxBytes: 20_000, concurrency: 1 });
    await w.fake.waitForUploads(1, 5000);
    w.fake.slowMs = 400;
    await new Promise((r) => setTimeout(r, 50));
    await h1.stop();
    w.fake.slowMs = 0;
    const before = w.fake.uploads.length;
    assert.ok(existsSync(rec.castPath), 'released back to NAME.cast');
    const progress = (await readJson(rec.sidecarPath)).parts as unknown[];
    assert.equal(progress.length, before);
    const h2 = await w.start({ maxBytes: 20_000 });
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'resume.json')), { timeoutMs: 10_000, what: 'uploaded/' });
    await h2.idle();
    checkParts(rec.text, w.fake.uploads, 20_000, 'resumed');
    await checkSidecar(w.dir, 'resume', w.fake.uploads);
  } finally {
    await w.close();
  }
});

test('a single event larger than any part lands in failed/ with the reason', async () => {
  const w = await uploadWorld({ maxBytes: 5_000 });
  try {
    const h = await w.start({ maxBytes: 5_000 });
    await writeRecording(w.dir, 'huge-event', { events: 3, eventChars: 8_000 });
    await waitFor(() => existsSync(path.join(w.dir, 'failed', 'huge-event.json')), { timeoutMs: 10_000, what: 'failed/' });
    await h.idle();
    const side = await readJson(path.join(w.dir, 'failed', 'huge-event.json'));
    assert.equal((side.failure as Record<string, unknown>).type, 'split_failed');
    assert.ok(existsSync(path.join(w.dir, 'failed', 'huge-event.cast')));
    await fs.access(path.join(w.dir, 'failed'));
  } finally {
    await w.close();
  }
});
