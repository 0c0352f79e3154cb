import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Recorder, type RecorderOptions } from '../../src/recording/recorder.js';

/**
 * How the recorder writes its `.part`: few, large writes while a session streams (each write
 * has a fixed cost in the thread pool), small ones while it is idle, always whole lines.
 */

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-recw-'));
  await chmod(dir, 0o700);
  return dir;
}

function opts(dir: string, over: Partial<RecorderOptions> = {}): RecorderOptions {
  return { dir, name: 'rec', width: 80, height: 24, timestamp: 1_800_000_000, title: 't', env: {}, recordInput: false, ...over };
}

/** `seq 1 N` as a pty shows it, at least `bytes` long. */
function seqText(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  for (let i = 1; n < bytes; i++) {
    const line = `${i}\r\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

/** Counts the FileHandle writes (and their bytes) made while `fn` runs. */
async function countWrites(fn: () => Promise<void>): Promise<{ writes: number; bytes: number }> {
  const probe = await open(os.devNull, 'r');
  const proto = Object.getPrototypeOf(probe) as { writev: (bufs: Buffer[], pos?: number) => Promise<{ bytesWritten: number }> };
  await probe.close();
  const real = proto.writev;
  const seen = { writes: 0, bytes: 0 };
  proto.writev = async function (this: unknown, bufs: Buffer[], pos?: number) {
    const r = await real.call(this, bufs, pos);
    seen.writes++;
    seen.bytes += r.bytesWritten;
    return r;
  };
  try {
    await fn();
  } finally {
    proto.writev = real;
  }
  return seen;
}

test('a streaming session writes its recording in pieces of hundreds of KiB, not one per 64 KiB', async () => {
  const dir = await tempDir();
  try {
    const data = seqText(8 * 1024 * 1024);
    let castPath = '';
    const seen = await countWrites(async () => {
      const rec = await Recorder.create(opts(dir));
      for (let off = 0, i = 0; off < data.length; off += 16 * 1024, i++) {
        if (!rec.output(data.subarray(off, off + 16 * 1024))) await rec.drained();
        // The event loop turns between pty reads, so writes complete as they would in a session.
        if (i % 8 === 7) await new Promise((r) => setImmediate(r));
      }
      castPath = (await rec.finish()).castPath;
    });
    const text = await readFile(castPath, 'utf8');
    const out = text.split('\n').slice(1, -1).map((l) => (JSON.parse(l) as [number, string, string])[2]).join('');
    assert.equal(out, data.toString('latin1'));
    // 64 KiB batches made ~160 writes of this 10 MB file; batches that grow to 1 MiB make ~25.
    const average = seen.bytes / seen.writes;
    assert.ok(average >= 256 * 1024, `${seen.writes} writes of ${Math.round(average / 1024)} KiB on average`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an interactive session keeps small batches: no batch beyond 128 KiB is allocated', async () => {
  const dir = await tempDir();
  const real = Buffer.allocUnsafeSlow;
  let largest = 0;
  try {
    Buffer.allocUnsafeSlow = (n: number) => {
      largest = Math.max(largest, n);
      return real(n);
    };
    const rec = await Recorder.create(opts(dir));
    for (let i = 0; i < 200; i++) {
      rec.output(`typed ${i}\r\n`);
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 120));
    }
    await rec.finish();
    assert.ok(largest <= 128 * 1024, `largest batch ${largest} bytes`);
  } finally {
    Buffer.allocUnsafeSlow = real;
    await rm(dir, { recursive: true, force: true });
  }
});
