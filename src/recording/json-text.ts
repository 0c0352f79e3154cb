/*
 * Turning event text into asciicast JSON, fast: valid UTF-8 escaped straight into a reused
 * buffer. (Decoding terminal bytes across chunk boundaries is done by the recorded-content
 * filter, src/recording/recorded-content.ts.)
 */

// Per byte: 0 copy, 1 two-char escape (\" \\ \b \t \n \f \r), 2 \u00XX; same output as JSON.stringify.
const ESC_KIND = new Uint8Array(256);
const ESC_CHAR = new Uint8Array(256);
const HEX = Buffer.from('0123456789abcdef', 'latin1');
for (let b = 0; b < 0x20; b++) ESC_KIND[b] = 2;
for (const [b, c] of [[8, 'b'], [9, 't'], [10, 'n'], [12, 'f'], [13, 'r'], [0x22, '"'], [0x5c, '\\']] as const) {
  ESC_KIND[b] = 1;
  ESC_CHAR[b] = c.charCodeAt(0);
}

/** Writes valid UTF-8 `src` as a quoted JSON string into `dst` at `p`; returns the new position. */
export function escapeJson(src: Buffer, dst: Buffer, p: number): number {
  dst[p++] = 0x22;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
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
  }
  dst[p++] = 0x22;
  return p;
}

