import { readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import pty, { type IPty } from 'node-pty';
import { PtyCoalescer } from './pty-coalescer.js';
import { readPtyReused } from './pty-read.js';
import { writeToPty } from './pty-write.js';
import { buildLaunchCommand } from './launch-args.js';
import { sessionContainment } from './containment.js';
import { SESSION_MARKER } from './account-scan.js';
import { readProcStat } from './process-tree.js';
import { ChunkFanout, ExitOnce, clientSignal, signalName } from './process-events.js';
import type { Program, SpawnOptions } from './program.js';

const VEOF = Buffer.from([0x04]);

/**
 * Recovers the tail of the output that node-pty 1.1.0 drops. libuv reports EOF as soon as
 * it sees POLLHUP after a short read, and a pty master hands out a few KiB per read, so when
 * the program exits up to a pty buffer of output is still in the kernel. At 'end' the fd is
 * still open: read it dry (EIO = empty and the slave is closed, EAGAIN = someone still holds
 * the slave). Uses node-pty internals (_socket, _fd), pinned to the installed 1.1.0. What the
 * coalescer still holds goes out first, so the tail follows it in order.
 */
function drainOnEnd(term: IPty, joined: PtyCoalescer): void {
  const internals = term as unknown as { _socket?: Readable; _fd?: number };
  const socket = internals._socket;
  const fd = internals._fd;
  if (!socket || typeof fd !== 'number') return;
  socket.once('end', () => {
    joined.flush();
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf);
      } catch {
        break;
      }
      if (n <= 0) break;
      joined.push(buf.subarray(0, n));
    }
    joined.flush();
  });
}

/**
 * Runs the launcher in a new pseudo-terminal, inside the session's containment (its
 * cgroup). node-pty makes the child a session leader with the pty as its controlling
 * terminal, so the pid is also the session id.
 */
export function spawnPtyProgram(opts: SpawnOptions, size: { cols: number; rows: number; term: string }): Program {
  const container = (opts.containment ?? sessionContainment()).open(opts.account.uid, opts.env[SESSION_MARKER]);
  let term: IPty;
  try {
    const cmd = buildLaunchCommand({ ...opts, cgroupDir: container.cgroupArg === '-' ? undefined : container.cgroupArg });
    // cwd "/" so root never has to enter a user-controlled directory; the launcher does
    // chdir(HOME) as the user and corrects the PWD that node-pty insists on adding.
    // encoding null: output stays bytes (a UTF-8 character may be split across reads).
    term = pty.spawn(cmd.launcher, cmd.args, {
      name: size.term,
      cols: Math.max(1, size.cols),
      rows: Math.max(1, size.rows),
      cwd: '/',
      env: opts.env,
      encoding: null,
    });
  } catch (err) {
    void container.terminate(0).catch(() => undefined); // nothing started: this only removes the cgroup
    throw err;
  }
  const pid = term.pid;
  container.started(pid, 'session');
  const out = new ChunkFanout();
  const exit = new ExitOnce();
  let eofSent = false;

  // Bulk output leaves in pieces of up to 32 KiB instead of node-pty's 4 KiB reads, lent: the
  // session copies what it keeps, so streamed output allocates no buffers here (pty-coalescer.ts).
  const joined = new PtyCoalescer((b) => out.lend(b), { lend: true });
  // Reads land in one reused buffer (a burst is copied out of it, a lone short read is lent as
  // it is); where that mode is not available, node-pty's onData (typed as string, but with
  // encoding: null it hands out Buffers).
  if (!readPtyReused(term, (chunk) => joined.push(chunk))) term.onData((d: string | Buffer) => joined.push(typeof d === 'string' ? Buffer.from(d) : d));
  drainOnEnd(term, joined);
  // node-pty emits exit only after the master closed (output drained) or 200 ms after the child
  // died; either way every byte read must be out before the exit is reported.
  term.onExit(({ exitCode, signal }) => {
    joined.flush();
    exit.fire(signal ? { code: null, signal: signalName(signal) } : { code: exitCode, signal: null });
  });

  return {
    pid,
    // node-pty keeps the slave's name in _pty (1.1.0); without it input counts as unechoed.
    tty: (term as unknown as { _pty?: unknown })._pty === undefined ? undefined : String((term as unknown as { _pty?: unknown })._pty),
    onStdout: (cb) => out.add(cb),
    borrowStdout: (cb) => out.addBorrower(cb),
    onStderr: () => {},
    write(b) {
      if (!exit.done) writeToPty(term, b);
      return true;
    },
    onInputDrain: () => {},
    endInput() {
      if (eofSent || exit.done) return;
      eofSent = true;
      term.write(VEOF);
    },
    resize(cols, rows) {
      if (exit.done || !(cols >= 1 && rows >= 1) || !Number.isFinite(cols) || !Number.isFinite(rows)) return;
      try {
        term.resize(Math.floor(cols), Math.floor(rows));
      } catch {
        // The pty can close between the check and the ioctl; a late resize does not matter.
      }
    },
    pause: () => term.pause(),
    resume: () => term.resume(),
    signal(name) {
      const sig = clientSignal(name);
      if (!sig || exit.done) return;
      // Like the tty driver does for ^C: the foreground job gets it, not the shell behind it.
      const fg = readProcStat(pid)?.tpgid ?? -1;
      try {
        process.kill(fg > 0 ? -fg : -pid, sig);
      } catch {
        // Already gone.
      }
    },
    onExit: (cb) => exit.add(cb),
    terminate: (graceMs) => container.terminate(graceMs),
  };
}
