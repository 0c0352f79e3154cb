import { isUtf8 } from 'node:buffer';

/*
 * Turning terminal bytes into asciicast event text, fast: UTF-8 decoded across chunk
 * boundaries and escaped straight into a reused buffer, with no string built per chunk.
 */

/**
 * One byte stream (pty output or typed input) decoded as UTF-8 across chunk boundaries: an
 * incomplete character at the end of a chunk waits for the next. Returns valid UTF-8 as a
 * Buffer (escaped without decoding), text with U+FFFD for invalid bytes, or null for nothing.
 */
export class Utf8Stream {
  private carry: Buffer | null = null;

  write(chunk: Buffer): Buffer | string | null {
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    const cut = completeLength(data);
    // Copy: the caller may reuse its chunk buffer after we return.
    this.carry = cut < data.length ? Buffer.from(data.subarray(cut)) : null;
    if (cut === 0) return null;
    const body = data.subarray(0, cut);
    return isUtf8(body) ? body : body.toString('utf8');
  }

  /** A string after buffered bytes means the byte stream was cut: the stub becomes U+FFFD. */
  writeString(text: string): string | null {
    const stub = this.carry ? this.carry.toString('utf8') : '';
    this.carry = null;
    return stub.length + text.length > 0 ? stub + text : null;
  }

  end(): string | null {
    return this.writeString('');
  }
}

/** Length of the prefix of `data` that ends on a character boundary (at most 3 bytes are held back). */
function completeLength(data: Buffer): number {
  const n = data.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const b = data[i]!;
    if (b < 0x80) return n;
    if (b < 0xc0) continue; // continuation byte: keep looking for its lead
    const need = b >= 0xf0 ? (b <= 0xf4 ? 4 : 1) : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 1;
    return n - i < need ? i : n;
  }
  return n;
}

// Per byte: 0 copy, 1 two-char escape (\" \\ \b \t \n \f \r), 2 \u00XX; same output as JSON.stringify.
const ESC_KIND = new Uint8Array(256);
const ESC_CHAR = new Uint8Array(256);
const HEX = Buffer.from('0123456789abcdef', 'latin1');
for (let b = 0; b < 0x20; b++) ESC_KIND[b] = 2;
for (const [b, c] of [[8, 'b'], [9, 't'], [10, 'n'], [12, 'f'], [13, 'r'], [0x22, '"'], [0x5c, '\\']] as const) {
  ESC_KIND[b] = 1;
  ESC_CHAR[b] = c.charCodeAt(0);
}
// Two source bytes (read little-endian) -> their escaped bytes, packed little-endian, and how
// many there are; length 0 when one of them needs a six-byte \u00XX (left to escapeByte).
// Terminal text is mostly printable bytes and \r\n, so a word with an escape in it is two
// look-ups and two stores instead of four byte-by-byte escapes.
const PAIR_OUT = new Uint32Array(65536);
const PAIR_LEN = new Uint8Array(65536);
for (let a = 0; a < 256; a++) {
  if (ESC_KIND[a] === 2) continue;
  // The first byte's escaped form, then the second's appended after it.
  const first = ESC_KIND[a] === 0 ? a : 0x5c + ESC_CHAR[a]! * 256;
  const shift = ESC_KIND[a] === 0 ? 256 : 65536;
  for (let b = 0; b < 256; b++) {
    if (ESC_KIND[b] === 2) continue;
    const pair = a + b * 256;
    PAIR_OUT[pair] = first + (ESC_KIND[b] === 0 ? b : 0x5c + ESC_CHAR[b]! * 256) * shift;
    PAIR_LEN[pair] = (ESC_KIND[a] === 0 ? 1 : 2) + (ESC_KIND[b] === 0 ? 1 : 2);
  }
}
// Reading four bytes as one number puts the first byte lowest only on a little-endian host.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Writes valid UTF-8 `src` as a quoted JSON string into `dst` at `p`; returns the new position.
 * `dst` must have the worst case, 6 bytes a source byte plus 2, free from `p`.
 */
export function escapeJson(src: Buffer, dst: Buffer, p: number): number {
  dst[p++] = 0x22;
  const n = src.length;
  // Up to the first 4-byte aligned source address byte by byte, then a word at a time (short
  // chunks, such as typed echo, byte by byte: a word view per call would cost more than it saves).
  const head = LITTLE_ENDIAN && n >= 16 ? (4 - (src.byteOffset & 3)) & 3 : n;
  for (let i = 0; i < head; i++) p = escapeByte(src[i]!, dst, p);
  if (head < n) {
    const words = new Uint32Array(src.buffer, src.byteOffset + head, (n - head) >>> 2);
    // Four bytes stored at once (unaligned), even when fewer are kept: room is there, since
    // the output so far is at most 6 bytes a byte and at least 4 source bytes are left.
    const out = viewOf(dst);
    for (let w = 0; w < words.length; w++) {
      const x = words[w]!;
      // SWAR: the result has a high bit set if any byte is < 0x20, 0x22 or 0x5c. A word with
      // none needs no escape, so one test replaces four table look-ups; measured best of 5,
      // A/B: 3.0 -> 1.9 ns per byte on `ls -l` text, 3.2 -> 2.2 on `seq` output.
      const q = x ^ 0x22222222;
      const s = x ^ 0x5c5c5c5c;
      if ((((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) {
        // Pairs, A/B medians of 9 on 4-32 KiB chunks: `seq` output 2.65 -> 1.81 ns per byte,
        // `ls --color` text 1.73 -> 1.34 (one store per clean word counts in both).
        const lo = PAIR_LEN[x & 0xffff]!;
        const hi = PAIR_LEN[x >>> 16]!;
        if (lo !== 0 && hi !== 0) {
          out.setUint32(p, PAIR_OUT[x & 0xffff]!, true);
          p += lo;
          out.setUint32(p, PAIR_OUT[x >>> 16]!, true);
          p += hi;
        } else {
          p = escapeByte(x & 0xff, dst, p);
          p = escapeByte((x >>> 8) & 0xff, dst, p);
          p = escapeByte((x >>> 16) & 0xff, dst, p);
          p = escapeByte(x >>> 24, dst, p);
        }
      } else {
        out.setUint32(p, x, true);
        p += 4;
      }
    }
    for (let i = head + words.length * 4; i < n; i++) p = escapeByte(src[i]!, dst, p);
  }
  dst[p++] = 0x22;
  return p;
}

// The recorder escapes many events into one batch: its DataView is made once, not per event.
let lastDst: Buffer | null = null;
let lastView: DataView | null = null;

function viewOf(dst: Buffer): DataView {
  if (dst !== lastDst) {
    lastDst = dst;
    lastView = new DataView(dst.buffer, dst.byteOffset, dst.length);
  }
  return lastView!;
}

/** Largest escaped size `escapeAhead` takes (a larger chunk is escaped straight into a batch of its own). */
export const AHEAD_MAX = 1024 * 1024;
// One for the process: event lines are built synchronously, so no two recorders use it at once.
let ahead = Buffer.allocUnsafeSlow(0);

/** Escapes `src` like escapeJson into a buffer the process shares (valid until the next call), sized exactly. */
export function escapeAhead(src: Buffer): Buffer {
  if (ahead.length < 6 * src.length + 2) ahead = Buffer.allocUnsafeSlow(6 * src.length + 2);
  return ahead.subarray(0, escapeJson(src, ahead, 0));
}

/** Escapes one byte (the reference every fast path must agree with). */
function escapeByte(b: number, dst: Buffer, p: number): number {
  const kind = ESC_KIND[b];
  if (kind === 0) dst[p++] = b;
  else if (kind === 1) {
    dst[p++] = 0x5c;
    dst[p++] = ESC_CHAR[b]!;
  } else {
    dst[p++] = 0x5c;
    dst[p++] = 0x75;
    dst[p++] = 0x30;
    dst[p++] = 0x30;
    dst[p++] = HEX[b >> 4]!;
    dst[p++] = HEX[b & 15]!;
  }
  return p;
}

/**
 * `String(micros / 1e6)`, an event time, built from integers: a double's shortest-digits
 * conversion cost ~0.5 us per event in the recorder and per line in the upload splitter (its
 * hottest line). Below 1e9 s the double's spacing is under 1e-6, so the shortest digits that
 * read back to it are the decimal itself, trailing zeros dropped, which is what this writes;
 * other times take String().
 */
export function timeText(micros: number): string {
  if (!(micros >= 0 && micros < 1e15 && Number.isInteger(micros))) return String(micros / 1e6);
  const whole = Math.floor(micros / 1e6);
  const frac = micros - whole * 1e6;
  if (frac === 0) return String(whole);
  let digits = String(frac).padStart(6, '0');
  while (digits.endsWith('0')) digits = digits.slice(0, -1);
  return `${whole}.${digits}`;
}
