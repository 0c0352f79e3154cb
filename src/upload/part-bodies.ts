import { open } from 'node:fs/promises';

/**
 * The bytes of a split recording's parts, read from their files into one buffer that goes
 * from part to part, instead of each part streamed from disk.
 *
 * Why: a 100 MB recording goes up as ~14 parts of 8 MB. Streamed, every 1 MiB read was a
 * fresh buffer outside the JavaScript heap (~110 MB per upload), and V8 answers that much
 * external memory with full (mark-compact) collections: `--trace-gc` in the CPU-per-GB bench
 * showed 6-9 of them in each ~2 s upload, against about one per 10 s while the same bytes
 * streamed through the session.
 *
 * A buffer comes back for the next part only after the server accepted the part (a 2xx answer
 * comes after it read every byte). After any other outcome it is dropped, never rewritten: a
 * write of it might still sit in the queue of a socket being torn down.
 */
export class PartBodies {
  private spare: Buffer | undefined;
  private lent: Buffer | undefined;

  /** Parts larger than `max` bytes are not held (`read` gives undefined: stream them from disk). */
  constructor(private readonly max: number) {}

  /** The `bytes` bytes of `file`, in the buffer a part accepted before it used (when it fits); undefined above `max`. */
  async read(file: string, bytes: number): Promise<Buffer | undefined> {
    if (bytes > this.max) return undefined;
    // The first part is the largest (every part but the last is filled to the limit).
    // Slow: never a slice of Node's shared pool, which must not be handed on.
    const buf = this.spare && this.spare.length >= bytes ? this.spare : Buffer.allocUnsafeSlow(Math.max(1, bytes));
    this.spare = undefined;
    this.lent = buf;
    const fh = await open(file, 'r');
    try {
      for (let at = 0; at < bytes; ) {
        const { bytesRead } = await fh.read(buf, at, bytes - at, at);
        if (bytesRead === 0) throw new Error(`part file ${file} is shorter than the ${bytes} bytes written to it`);
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return buf.subarray(0, bytes);
  }

  /** Takes back the buffer of a part the server accepted, for the next part. */
  accepted(data: Buffer): void {
    if (this.lent && data.buffer === this.lent.buffer) this.spare = this.lent;
    this.lent = undefined;
  }
}
