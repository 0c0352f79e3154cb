import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { escapeJson } from '../../src/recording/json-text.js';
import { Recorder } from '../../src/recording/recorder.js';
import { BUILTIN_RULES } from '../../src/recording/redact-rules.js';

// Property tests: the recorder's fast paths (bytes escaped a word at a time, Buffers that skip
// decoding) must write exactly what the slow paths write, for any input.

/** A deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pieces chosen to sit on the word test's edges: bytes just below and above 0x20, 0x22 and
// 0x5c, the same with the high bit set, escapes, ESC sequences and multi-byte characters.
const PIECES = ['a', ' ', '!', '#', '[', ']', '"', '\\', '\r\n', '\t', '\b', '\f', '\x00', '\x1f', '\x7f', '\x1b[1;31m', '\x1b]133;A\x07', 'é', '\u00a0', '\u00dc', '\u0122', '中', '😀', 'ghp_', '0123456789', 'x'.repeat(40)];

function randomText(rnd: () => number, pieces: number): string {
  let s = '';
  for (let i = 0; i < pieces; i++) s += PIECES[Math.floor(rnd() * PIECES.length)];
  return s;
}

/** The per-byte definition: what escapeJson must write for any byte string. */
function reference(src: Buffer): Buffer {
  const out: number[] = [0x22];
  const named: Record<number, string> = { 8: 'b', 9: 't', 10: 'n', 12: 'f', 13: 'r', 0x22: '"', 0x5c: '\\' };
  for (const b of src) {
    if (named[b]) out.push(0x5c, named[b].charCodeAt(0));
    else if (b < 0x20) out.push(...Buffer.from(`\\u00${b.toString(16).padStart(2, '0')}`));
    else out.push(b);
  }
  out.push(0x22);
  return Buffer.from(out);
}

test('escapeJson writes what JSON.stringify writes for valid UTF-8, at every alignment and length', () => {
  const rnd = prng(12);
  const dst = Buffer.alloc(64 * 1024);
  for (let round = 0; round < 3000; round++) {
    const text = randomText(rnd, Math.floor(rnd() * 40));
    const bytes = Buffer.from(text);
    // Copy into a larger buffer at an offset so the source starts at every address mod 8.
    const at = round % 8;
    const holder = Buffer.alloc(bytes.length + 16);
    bytes.copy(holder, at);
    const src = holder.subarray(at, at + bytes.length);
    const p0 = Math.floor(rnd() * 5);
    const end = escapeJson(src, dst, p0);
    assert.equal(dst.subarray(p0, end).toString('utf8'), JSON.stringify(text), `seed 12 round ${round}`);
  }
});

test('escapeJson agrees with the per-byte definition for arbitrary bytes, including words near the escape classes', () => {
  const rnd = prng(34);
  const edge = [0x00, 0x01, 0x08, 0x0a, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0x9f, 0xa0, 0xa2, 0xdc, 0xff];
  const dst = Buffer.alloc(8 * 1024);
  for (let round = 0; round < 5000; round++) {
    const n = Math.floor(rnd() * 64);
    const holder = Buffer.alloc(n + 8);
    const at = round % 4;
    for (let i = 0; i < n; i++) holder[at + i] = rnd() < 0.7 ? edge[Math.floor(rnd() * edge.length)]! : Math.floor(rnd() * 256);
    const src = holder.subarray(at, at + n);
    const end = escapeJson(src, dst, 0);
    assert.deepEqual(dst.subarray(0, end), reference(src), `seed 34 round ${round}: ${src.toString('hex')}`);
  }
});

test('escapeJson fits in exactly the worst-case room it asks for (its word stores write four bytes at once)', () => {
  const rnd = prng(78);
  for (let round = 0; round < 3000; round++) {
    const n = Math.floor(rnd() * 48);
    const holder = Buffer.alloc(n + 8);
    const at = round % 4;
    // Mostly six-byte escapes, so the output ends at or near the end of the room, between
    // them two-byte escapes and plain bytes (the pair stores) and words with none.
    // Every third round is all six-byte escapes (the output fills the room exactly), every
    // sixth one but a single byte; the others mix in two-byte escapes and plain bytes.
    const dense = round % 3 === 0 ? 1 : 0.7;
    for (let i = 0; i < n; i++) holder[at + i] = rnd() < dense ? 0x01 : rnd() < 0.7 ? [0x0d, 0x0a, 0x22, 0x5c, 0x09][Math.floor(rnd() * 5)]! : 0x41;
    if (round % 6 === 3 && n > 0) holder[at + Math.floor(rnd() * n)] = 0x0a;
    const src = holder.subarray(at, at + n);
    const p0 = Math.floor(rnd() * 3);
    // A view that ends where the room ends: a store past it throws instead of landing in spare bytes.
    const dst = Buffer.alloc(p0 + 6 * n + 2 + 16).subarray(0, p0 + 6 * n + 2);
    const end = escapeJson(src, dst, p0);
    assert.deepEqual(dst.subarray(p0, end), reference(src), `seed 78 round ${round}: ${src.toString('hex')}`);
  }
});

/** Records `chunks` (Buffers, or the same bytes decoded to strings first) and returns the file. */
async function record(dir: string, name: string, chunks: Array<Buffer | string>, redact: boolean): Promise<string> {
  const rec = await Recorder.create({ dir, name, width: 80, height: 24, timestamp: 1_800_000_000, title: 't', env: {}, recordInput: false, clock: () => 1000, redact: redact ? BUILTIN_RULES : null });
  for (const c of chunks) rec.output(c);
  return readFile((await rec.finish()).castPath, 'utf8');
}

test('Buffers (escaped byte by byte) and the same text as strings (JSON.stringify) make identical recordings, UTF-8 split across chunks', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-json-'));
  await chmod(dir, 0o700);
  try {
    const rnd = prng(56);
    for (let round = 0; round < 40; round++) {
      // Every fourth round is big enough for chunks that are escaped ahead (json-text.ts `escapeAhead`).
      const all = Buffer.from(randomText(rnd, round % 4 === 3 ? 8000 : 400));
      const bufs: Buffer[] = [];
      for (let off = 0; off < all.length; ) {
        const size = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 8 : round % 4 === 3 ? 40_000 : 3000));
        // Fresh copies at odd offsets, like a pty read into a pooled buffer.
        const holder = Buffer.alloc(size + 3);
        all.copy(holder, 3, off, off + size);
        bufs.push(holder.subarray(3, 3 + Math.min(size, all.length - off)));
        off += size;
      }
      const decoder = new TextDecoder('utf-8');
      const strings = bufs.map((b) => decoder.decode(b, { stream: true })).filter((s) => s !== '');
      for (const redact of [false, true]) {
        const fast = await record(dir, `f${round}${redact}`, bufs, redact);
        const slow = await record(dir, `s${round}${redact}`, strings, redact);
        if (!redact) assert.equal(fast.replace(/^.*\n/, ''), slow.replace(/^.*\n/, ''), `seed 56 round ${round}`);
        // With redaction on, held-back text may split differently; the text itself must not.
        const text = (cast: string) => cast.split('\n').slice(1).filter(Boolean).map((l) => (JSON.parse(l) as [number, string, string])[2]).join('');
        assert.equal(text(fast), text(slow), `seed 56 round ${round} redact ${redact}`);
        assert.equal(text(fast), redact ? text(slow) : all.toString('utf8'));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
