import { writeSync } from 'node:fs';
import type { IPty } from 'node-pty';

/**
 * Writes typed input to a pty at once, on the event loop, when nothing is queued before it.
 *
 * Why: node-pty 1.1.0 queues every write and hands it to fs.write, which runs on libuv's
 * thread pool: four threads shared with every recording's writes and fsyncs and the
 * uploader's reads. With many recorded sessions a keystroke waited behind them (the
 * echo-latency bench). The master fd is non-blocking, so writeSync either takes the bytes or
 * fails with EAGAIN at once; whatever it did not take goes through node-pty's queue, which
 * retries. Uses node-pty internals (_writeStream._writeQueue), pinned like drainOnEnd.
 */
export function writeToPty(term: IPty, b: Buffer): void {
  const stream = (term as unknown as { _writeStream?: { _fd?: number; _writeQueue?: unknown[] } })._writeStream;
  const fd = stream?._fd;
  // Something still queued: this input goes behind it, in order.
  if (typeof fd !== 'number' || !Array.isArray(stream?._writeQueue) || stream._writeQueue.length > 0) {
    term.write(b);
    return;
  }
  let n = 0;
  try {
    n = writeSync(fd, b);
  } catch {
    // EAGAIN (the program is not reading) or EIO (it is gone): node-pty's queue deals with both.
  }
  if (n < b.length) term.write(b.subarray(n));
}
