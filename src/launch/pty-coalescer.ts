/** Most bytes one delivered piece holds: the OpenSSH client's maximum channel packet (32 KiB). */
export const COALESCE_MAX = 32 * 1024;
/**
 * How long a burst may wait for more output before what it has goes out, in milliseconds.
 * A pty fills at ~8-10 MB/s under `seq`, so 1 ms held ~8 KiB: most pieces of a flood went out
 * on the timer at 4-16 KiB (5,907 pieces per 20,000 reads). 4 ms fills the cap instead (3,045
 * pieces, 80% of them 16-32 KiB), and every piece costs an SSH packet, a socket write, a timer
 * and a recording event: with the recording off, server CPU per GB fell from 30.5/41.8/47.6 to
 * 26.4/24.1/31.4 s (three A/B pairs, load 10-20 on two cores). Typed echo never waits (below).
 */
export const COALESCE_WAIT_MS = 4;
// A pty master hands out at most 4095 bytes per read (the line discipline's 4 KiB buffer). A
// read that size means the program is writing faster than we read; a shorter one means the
// kernel had nothing more, so the burst has ended (or there never was one: a keystroke echo).
const FULL_READ = 4000;

/**
 * Joins a pty's reads into pieces of up to 32 KiB while a program floods the terminal, without
 * ever reading the pty itself and without delaying output that is not part of a flood.
 *
 * Why: every piece costs an SSH packet, a socket write and a recording event downstream, and
 * with node-pty's 4 KiB reads those per-piece costs dominate bulk output. The earlier fix read
 * ahead with readSync on the non-blocking master after a full read, but Linux's n_tty_read
 * waits for the tty flip-buffer worker (tty_buffer_flush_work) whenever its buffer is empty,
 * O_NONBLOCK or not: strace showed such reads taking up to 8 ms, and in six `--only pty,cpu`
 * bench runs they held the event loop for 50 s of its 125 s of main-thread time (joined
 * instead: 62 s in all, the live path's own share about the same, ~10 s). Here libuv's own
 * reads (which only happen when epoll says bytes are waiting) are collected, and handed on when:
 * - a read is short: the kernel had no more, so the burst is over. A lone short read with
 *   nothing collected (a keystroke's echo, a prompt) goes out in the same turn, untouched;
 * - the next full read could not fit under the cap;
 * - COALESCE_WAIT_MS passed since the burst began: a program that wrote exactly a multiple
 *   of 4095 bytes and then waits still has its output shown. This delay only ever follows a
 *   full read, never typed echo.
 * Bytes leave in the order they came in; flush() hands on anything collected at once (the
 * caller does it before the pty's tail and before reporting the exit).
 */
export class PtyCoalescer {
  // Bytes of the burst so far, copied out of the reads (a read's buffer may be reused once push returns).
  private acc: Buffer | undefined;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  /** @param deliver receives each piece, in order; it is called synchronously from push/flush or from the timer. */
  constructor(private readonly deliver: (b: Buffer) => void) {}

  /** Takes one read from the pty (copied: the caller may reuse `b` afterwards); delivers now, or keeps it while a burst is still running. */
  push(b: Buffer): void {
    if (b.length === 0) return;
    // node-pty now and then hands out more than one read at once; keep every piece under the cap.
    if (this.size > 0 && this.size + b.length > COALESCE_MAX) this.flush();
    if (this.size === 0 && (b.length < FULL_READ || b.length >= COALESCE_MAX)) {
      this.deliver(Buffer.from(b));
      return;
    }
    this.acc ??= Buffer.allocUnsafeSlow(COALESCE_MAX);
    b.copy(this.acc, this.size);
    this.size += b.length;
    // Hand on when this read ended the burst, or when one more full read would pass the cap.
    if (b.length < FULL_READ || this.size + FULL_READ > COALESCE_MAX) this.flush();
    else this.timer ??= setTimeout(this.onTimer, COALESCE_WAIT_MS);
  }

  /** Hands on everything collected, as one piece; a no-op when nothing is waiting. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.size === 0) return;
    const acc = this.acc!;
    const size = this.size;
    this.size = 0;
    // The piece goes downstream (ssh2, the recorder) and may be held there, so it is never
    // written again: a piece of at least half the cap takes the buffer itself (the next burst
    // gets a new one), a smaller one is copied out so a held piece never pins 32 KiB.
    let out: Buffer;
    if (size >= COALESCE_MAX / 2) {
      out = acc.subarray(0, size);
      this.acc = undefined;
    } else out = Buffer.from(acc.subarray(0, size));
    this.deliver(out);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flush();
  };
}
