import { open } from 'node:fs/promises';

/**
 * Reads a recording's lines as Buffers, for the uploader's passes over files of 100 MB and more
 * and for recovery's passes over a crashed `.part`.
 *
 * A readline pass (RegExp line split, UTF-8 decoding to strings, then Buffer.byteLength and a
 * UTF-8 encode again to write) cost ~0.8 s of CPU per 110 MB recording, twice per split. Here a
 * line is found with `indexOf(0x0a)` (memchr) and never decoded: ~15 ms per 110 MB, plus the
 * read itself (~60 ms in 1 MiB reads). Event bytes go out exactly as they were read.
 */

/** Bytes per read: big reads cost fewer system calls and fewer JS turns than the 64 KiB default. */
export const READ_CHUNK = 1 << 20;

/** The lines of one read; `unterminated` marks the file's last line when no newline ends it (then alone in its batch). */
export interface LineBatch {
  lines: Buffer[];
  unterminated: boolean;
}

/** How `lineBatches` reads: `onChunk` sees every byte read, in order; `keepCr` leaves a `\r` before `\n` in the line. */
export interface LineOptions {
  onChunk?: (chunk: Buffer) => void;
  keepCr?: boolean;
}

/**
 * Yields the lines of `file` in batches, one batch per read, each line without its `\n` (and
 * without a `\r` before it, unless `keepCr`); a last line without a newline is yielded too, in a
 * batch of its own marked `unterminated`. Every byte read is passed to `onChunk` first, in order,
 * so a caller can hash the very bytes the lines were cut from. Recovery keeps the `\r`: it cuts
 * and copies the file by the lines' exact byte lengths.
 *
 * A batch's Buffers are valid only until the next batch is asked for: one read buffer is reused
 * (a fresh 1 MiB per read made the garbage collector run ~0.2 s per 110 MB pass, for memory
 * outside the heap). A caller that keeps bytes longer copies them. A line that runs over read
 * boundaries is gathered as a list of pieces and joined once, linear in its length: recovery's
 * own reader re-concatenated it on every read, and a `.part` torn in a 100 MB line took 11-13 s
 * of CPU to recover, 0.5-0.7 s with this one.
 */
export async function* lineBatches(file: string, { onChunk, keepCr = false }: LineOptions = {}): AsyncGenerator<LineBatch> {
  const cut = keepCr ? asIs : withoutCr;
  const fh = await open(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    // A line that runs over a read boundary: copies of its pieces so far.
    let carry: Buffer[] = [];
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      onChunk?.(data);
      const lines: Buffer[] = [];
      let at = 0;
      for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, at)) {
        let line = data.subarray(at, nl);
        if (carry.length > 0) {
          carry.push(line);
          line = Buffer.concat(carry);
          carry = [];
        }
        lines.push(cut(line));
        at = nl + 1;
      }
      if (at < data.length) carry.push(Buffer.from(data.subarray(at)));
      if (lines.length > 0) yield { lines, unterminated: false };
    }
    if (carry.length > 0) yield { lines: [cut(Buffer.concat(carry))], unterminated: true };
  } finally {
    await fh.close();
  }
}

function asIs(line: Buffer): Buffer {
  return line;
}

function withoutCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
}

/** True when the line holds nothing but white space (String.prototype.trim's idea of it). */
export function isBlank(line: Buffer): boolean {
  // Every event starts with '['; only other lines are decoded to ask trim().
  if (line.length === 0) return true;
  return line[0] !== 0x5b && line.toString('utf8').trim() === '';
}
