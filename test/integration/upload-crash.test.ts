import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST_BACKOFF, uploadWorld, type UploadWorld } from '../support/upload-harness.js';
import { waitFor } from '../support/poll.js';
import { writeRecording } from '../support/recordings.js';
import { HOST_TAG } from '../../src/upload/claims.js';

/** Crashes, restarts, shutdown and two uploaders sharing one directory. */

const RUNNER = fileURLToPath(new URL('../support/run-uploader.js', import.meta.url));

interface Child {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  ready: Promise<void>;
}

function runChild(w: UploadWorld, over: Record<string, unknown> = {}, killAtRename?: string): Child {
  const { logger: _l, ...opts } = w.options();
  const proc = spawn(process.execPath, [RUNNER, JSON.stringify({ ...opts, backoff: FAST_BACKOFF, ...over }), ...(killAtRename ? [killAtRename] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      lines.push(l);
      if (l.ready) onReady();
    }
  });
  return { proc, lines, ready };
}

async function term(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  await exited;
}

function countBy(uploads: Array<{ filename: string }>): Map<string, number> {
  const m = new Map<string, number>();
  for (const u of uploads) m.set(u.filename, (m.get(u.filename) ?? 0) + 1);
  return m;
}

test('kill -9 of the uploader mid-upload, then restart: the recording is completed, once', async () => {
  const w = await uploadWorld();
  const children: Child[] = [];
  try {
    w.fake.slowMs = 10_000;
    const a = runChild(w);
    children.push(a);
    await a.ready;
    await writeRecording(w.dir, 'victim');
    await waitFor(() => w.fake.inFlight >= 1, { timeoutMs: 5000, what: 'the upload in flight' });
    const exited = new Promise((r) => a.proc.once('exit', r));
    a.proc.kill('SIGKILL');
    await exited;
    const left = await fs.readdir(w.dir);
    assert.ok(left.some((f) => f.startsWith(`victim.cast.claim.${HOST_TAG}.${a.proc.pid}.`)), `claim left behind: ${left.join(', ')}`);
    assert.equal(w.fake.uploads.length, 0);

    w.fake.slowMs = 0;
    const b = runChild(w);
    children.push(b);
    await b.ready;
    await w.fake.waitForUploads(1, 5000);
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'victim.cast')), { timeoutMs: 5000, what: 'uploaded/' });
    assert.ok(b.lines.some((l) => l.deadPid === a.proc.pid), 'the new uploader took the dead one\'s claim over');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(w.fake.uploads.length, 1);
    assert.deepEqual((await fs.readdir(w.dir)).sort(), ['live', 'uploaded']);
  } finally {
    for (const c of children) await term(c);
    await w.close();
  }
});

test('a crash after the outcome was written but before the move: finished at restart without a second upload', async () => {
  const w = await uploadWorld();
  try {
    const rec = await writeRecording(w.dir, 'halfway');
    const side = JSON.parse(await fs.readFile(rec.sidecarPath, 'utf8')) as Record<string, unknown>;
    await fs.mkdir(path.join(w.dir, 'uploaded'));
    await fs.writeFile(path.join(w.dir, 'uploaded', 'halfway.json'), JSON.stringify({ ...side, uploadedAt: new Date().toISOString(), url: 'http://x/a/1' }));
    // Claimed by a process that no longer exists (pid far above pid_max).
    await fs.rename(rec.castPath, path.join(w.dir, `halfway.cast.claim.${HOST_TAG}.99999999.abcdef.${Math.floor(Date.now() / 1000)}`));
    const h = await w.start();
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'halfway.cast')), { timeoutMs: 3000, what: 'the move' });
    await h.idle();
    assert.equal(w.fake.requests, 0);
    assert.deepEqual((await fs.readdir(w.dir)).sort(), ['live', 'uploaded']);
  } finally {
    await w.close();
  }
});

test('stop gives in-flight uploads a grace, then aborts and releases them for the next start', async () => {
  const w = await uploadWorld();
  try {
    w.fake.slowMs = 3000;
    const h1 = await w.start({ stopGraceMs: 200 });
    const rec = await writeRecording(w.dir, 'interrupted');
    await waitFor(() => w.fake.inFlight >= 1, { timeoutMs: 5000, what: 'the upload in flight' });
    const t0 = Date.now();
    await h1.stop();
    assert.ok(Date.now() - t0 < 1500, `stopped in ${Date.now() - t0} ms`);
    assert.ok(existsSync(rec.castPath), 'claim released: NAME.cast is back');
    assert.deepEqual((await fs.readdir(w.dir)).filter((f) => f.includes('.claim.')), []);
    w.fake.slowMs = 0;
    const h2 = await w.start();
    await w.fake.waitForUploads(1, 5000);
    await h2.idle();
    assert.equal(w.fake.uploads.length, 1);
  } finally {
    await w.close();
  }
});

test('two uploader processes on one directory upload each file exactly once', async () => {
  const w = await uploadWorld();
  const children: Child[] = [];
  try {
    for (let i = 0; i < 40; i++) await writeRecording(w.dir, `pre-${String(i).padStart(3, '0')}`);
    const a = runChild(w, { concurrency: 3 });
    const b = runChild(w, { concurrency: 3 });
    children.push(a, b);
    await Promise.all([a.ready, b.ready]);
    for (let i = 0; i < 40; i++) await writeRecording(w.dir, `live-${String(i).padStart(3, '0')}`);
    await w.fake.waitForUploads(80, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    const counts = countBy(w.fake.uploads);
    assert.equal(counts.size, 80);
    assert.ok([...counts.values()].every((n) => n === 1), 'no file twice');
    const byA = a.lines.filter((l) => l.event === 'recording_uploaded').length;
    const byB = b.lines.filter((l) => l.event === 'recording_uploaded').length;
    assert.equal(byA + byB, 80);
    assert.ok(byA > 0 && byB > 0, `both worked: ${byA} + ${byB}`);
    // Neither may have exited on its own once its queue ran dry: that lost the last recordings.
    assert.deepEqual([a.proc.exitCode, b.proc.exitCode], [null, null], 'both uploaders still running');
  } finally {
    for (const c of children) await term(c);
    await w.close();
  }
});

test('an uploader whose backlog was taken by a peer while it scanned keeps running and uploads the next recording', async () => {
  // Past its backlog threshold the uploader scans instead of watching. When its queue then
  // empties at once (a peer on another machine claimed the rest), only the scan timer is left:
  // the process must not take that for "nothing left to do" and exit.
  const w = await uploadWorld();
  const children: Child[] = [];
  try {
    for (let i = 0; i < 80; i++) await writeRecording(w.dir, `backlog-${String(i).padStart(3, '0')}`);
    w.fake.slowMs = 1000;
    const a = runChild(w, { concurrency: 1 });
    children.push(a);
    await a.ready;
    assert.ok(a.lines.some((l) => l.msg === 'large backlog: scanning instead of watching until it drains'), 'the uploader scans instead of watching');
    await waitFor(() => w.fake.inFlight >= 1, { timeoutMs: 5000, what: 'the first upload in flight' });
    const peer = HOST_TAG === '00000000' ? '11111111' : '00000000';
    const now = Math.floor(Date.now() / 1000);
    for (const f of await fs.readdir(w.dir)) {
      if (f.endsWith('.cast')) await fs.rename(path.join(w.dir, f), path.join(w.dir, `${f}.claim.${peer}.4242.feedbeef.${now}`));
    }
    assert.equal(w.fake.uploads.length, 0, 'the peer claimed the rest while the first upload was held');
    await w.fake.waitForUploads(1, 5000);
    w.fake.slowMs = 0;
    await writeRecording(w.dir, 'after-drain');
    let exit: string | undefined;
    a.proc.once('exit', (code, signal) => (exit = `code ${code}, signal ${signal}`));
    await waitFor(() => exit !== undefined || w.fake.uploads.length >= 2, { timeoutMs: 5000, what: 'the recording written after the drain to be uploaded' });
    assert.equal(exit, undefined, 'the uploader exited with work left');
    assert.equal(w.fake.uploads[1]!.filename, 'after-drain.cast');
  } finally {
    for (const c of children) await term(c);
    await w.close();
  }
});

test('two uploaders in one process share a directory without double uploads', async () => {
  const w = await uploadWorld();
  try {
    const h1 = await w.start({ concurrency: 2 });
    const h2 = await w.start({ concurrency: 2 });
    for (let i = 0; i < 30; i++) await writeRecording(w.dir, `same-${i}`);
    await w.fake.waitForUploads(30, 10_000);
    await Promise.all([h1.idle(), h2.idle()]);
    await new Promise((r) => setTimeout(r, 300));
    const counts = countBy(w.fake.uploads);
    assert.equal(counts.size, 30);
    assert.ok([...counts.values()].every((n) => n === 1));
  } finally {
    await w.close();
  }
});

test('a backlog of 500 recordings drains', async () => {
  const w = await uploadWorld();
  try {
    for (let i = 0; i < 500; i++) await writeRecording(w.dir, `backlog-${String(i).padStart(4, '0')}`);
    const t0 = Date.now();
    const h = await w.start();
    await w.fake.waitForUploads(500, 30_000);
    await h.idle();
    const ms = Date.now() - t0;
    console.log(`# backlog of 500 drained in ${ms} ms`);
    assert.equal(countBy(w.fake.uploads).size, 500);
    assert.equal((await fs.readdir(path.join(w.dir, 'uploaded'))).length, 1000);
    assert.deepEqual((await fs.readdir(w.dir)).sort(), ['live', 'uploaded']);
  } finally {
    await w.close();
  }
});

/** Runs an uploader child until it dies at the rename of a file matching `pattern`. */
async function crashAt(w: UploadWorld, pattern: string, over: Record<string, unknown> = {}): Promise<number> {
  const a = runChild(w, over, pattern);
  const exited = new Promise((r) => a.proc.once('exit', (_code, signal) => r(signal)));
  await a.ready;
  assert.equal(await exited, 'SIGKILL');
  return a.proc.pid!;
}

test('kill -9 between the outcome sidecar\'s write in uploaded/ and its rename: the next uploader removes the temp and logs it', async () => {
  const w = await uploadWorld();
  try {
    await writeRecording(w.dir, 'victim');
    const crashed = crashAt(w, '^\\.victim\\.json\\..*\\.tmp$');
    const pid = await crashed;
    const temps = (await fs.readdir(path.join(w.dir, 'uploaded'))).filter((f) => f.endsWith('.tmp'));
    assert.equal(temps.length, 1, 'the crash left the temp');
    assert.match(temps[0]!, new RegExp(`^\\.victim\\.json\\.${HOST_TAG}\\.${pid}\\.[0-9a-f]{8}\\.tmp$`), 'named with its writer\'s host and pid');
    const h = await w.start();
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'victim.cast')), { timeoutMs: 5000, what: 'uploaded/' });
    await h.idle();
    assert.deepEqual((await fs.readdir(path.join(w.dir, 'uploaded'))).sort(), ['victim.cast', 'victim.json']);
    const logged = w.log.lines.filter((l) => l.code === 'ERR_UPLOAD_LEFTOVER').flatMap((l) => l.files as string[]);
    assert.deepEqual(logged, [path.join('uploaded', temps[0]!)]);
  } finally {
    await w.close();
  }
});

test('kill -9 mid-split, then the recording goes up whole: its parts are removed when it is claimed again', async () => {
  const w = await uploadWorld();
  try {
    await writeRecording(w.dir, 'big', { events: 600, eventChars: 90 });
    // The first part is up; its progress sidecar (written through .parts/big/) never got its name.
    await crashAt(w, '^\\.big\\.json\\..*\\.tmp$', { maxBytes: 20_000 });
    assert.ok((await fs.readdir(path.join(w.dir, '.parts', 'big'))).length > 1, 'the crash left the parts');
    const h = await w.start();
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'big.cast')), { timeoutMs: 5000, what: 'uploaded/' });
    await h.idle();
    assert.equal(w.fake.uploads.at(-1)!.filename, 'big.cast', 'the second uploader sent it whole');
    assert.deepEqual(await fs.readdir(path.join(w.dir, '.parts')), []);
    assert.ok(w.log.lines.some((l) => l.code === 'ERR_UPLOAD_LEFTOVER' && l.recording === 'big'));
  } finally {
    await w.close();
  }
});
