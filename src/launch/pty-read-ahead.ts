import { readSync } from 'node:fs';

/** Most bytes one read-ahead gathers: two of the client's usual 32 KiB channel packets. */
export const READ_AHEAD_MAX = 64 * 1024;
// A pty master hands out at most 4 KiB per read (the line discipline's buffer); a read that
// short of that drained the pty, so looking again would only cost a failed syscall.
const FULL_READ = 4000;

/**
 * Joins a pty read with whatever the kernel already holds behind it, so bulk output moves
 * in pieces of up to 64 KiB instead of the 4 KiB node-pty's reads deliver.
 *
 * Why: every chunk costs an SSH packet, a socket write and a recording event, and with 4 KiB
 * chunks those per-chunk costs dominate. This reads only bytes that are already waiting
 * (the master fd is non-blocking; EAGAIN ends the loop), so nothing waits for more output:
 * a lone keystroke echo is a short read and goes out untouched in the same turn. The reads
 * happen inside node-pty's data callback, so order is kept; EIO (slave closed) also ends the
 * loop and libuv sees it on its own next read.
 */
export function readAhead(fd: number, first: Buffer): Buffer {
  if (first.length < FULL_READ) return first;
  const buf = scratch;
  first.copy(buf, 0);
  let got = first.length;
  while (READ_AHEAD_MAX - got >= 4096) {
    let n: number;
    try {
      n = readSync(fd, buf, got, READ_AHEAD_MAX - got, null);
    } catch {
      break; // EAGAIN: nothing more waiting; EIO: the program's side is closed
    }
    if (n <= 0) break;
    got += n;
    if (n < FULL_READ) break;
  }
  // A copy of exactly what was read: a fresh 64 KiB buffer per read would count as external
  // memory in full and make V8 run major collections far more often (seen with perf).
  return got === first.length ? first : Buffer.from(buf.subarray(0, got));
}

// One scratch buffer for all sessions: reads and the copy out happen in one synchronous call.
const scratch = Buffer.allocUnsafeSlow(READ_AHEAD_MAX);
