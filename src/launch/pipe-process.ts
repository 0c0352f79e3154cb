import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { buildLaunchCommand } from './launch-args.js';
import { sessionContainment } from './containment.js';
import { SESSION_MARKER } from './account-scan.js';
import { ChunkFanout, ExitOnce, clientSignal } from './process-events.js';
import type { ExitInfo, Program, SpawnOptions } from './program.js';

// After the program exits, its output pipes may still be held open by a background
// process it left behind (`ssh host 'sleep 100 &'` hangs OpenSSH for that reason). We
// keep reading while output flows and stop once the pipes have been idle this long.
const LINGER_IDLE_MS = 1000;
const LINGER_TICK_MS = 100;

/**
 * Runs the launcher on three pipes, stdout and stderr kept apart, inside the session's
 * containment (its cgroup). `detached` makes the child call setsid(), so it leads its own
 * session and process group (pid = sid = pgid).
 */
export function spawnPipeProgram(opts: SpawnOptions): Program {
  const container = (opts.containment ?? sessionContainment()).open(opts.account.uid, opts.env[SESSION_MARKER]);
  let child: ChildProcessWithoutNullStreams;
  try {
    const cmd = buildLaunchCommand({ ...opts, cgroupDir: container.cgroupArg === '-' ? undefined : container.cgroupArg });
    child = spawn(cmd.launcher, cmd.args, { env: opts.env, stdio: 'pipe', detached: true, cwd: '/' });
  } catch (err) {
    void container.terminate(0).catch(() => undefined); // nothing started: this only removes the cgroup
    throw err;
  }
  const out = new ChunkFanout();
  const err = new ChunkFanout();
  const exit = new ExitOnce();
  let paused = false;
  let lastOutput = Date.now();

  const { stdin, stdout, stderr } = child;
  const pid = child.pid ?? -1;
  // A command without a pty has no job control: its process group is all the fallback needs.
  if (pid > 0) container.started(pid, 'group');
  stdout.on('data', (b: Buffer) => {
    lastOutput = Date.now();
    out.emit(b);
  });
  stderr.on('data', (b: Buffer) => {
    lastOutput = Date.now();
    err.emit(b);
  });
  // EPIPE when the program stops reading stdin is normal; it must not crash the server.
  stdin.on('error', () => {});
  stdout.on('error', () => {});
  stderr.on('error', () => {});

  let status: ExitInfo | undefined;
  let linger: NodeJS.Timeout | undefined;
  const finish = () => {
    if (!status || exit.done) return;
    if (linger) clearInterval(linger);
    exit.fire(status);
  };
  // 'close' = exited and both output pipes reached EOF: the normal, fully drained case.
  child.on('close', finish);
  child.on('exit', (code, sig) => {
    status = sig ? { code: null, signal: sig.replace(/^SIG/, '') } : { code: code ?? 0, signal: null };
    linger = setInterval(() => {
      if (paused || Date.now() - lastOutput < LINGER_IDLE_MS) return;
      stdout.destroy();
      stderr.destroy();
      finish();
    }, LINGER_TICK_MS);
  });
  // Spawning the launcher itself failed (EACCES, EAGAIN): report it like exec failure.
  child.on('error', () => {
    status ??= { code: 126, signal: null };
    finish();
  });

  return {
    pid,
    onStdout: (cb) => out.add(cb),
    onStderr: (cb) => err.add(cb),
    write(b) {
      if (stdin.destroyed || !stdin.writable) return true;
      return stdin.write(b);
    },
    onInputDrain: (cb) => void stdin.on('drain', cb),
    endInput() {
      if (!stdin.destroyed) stdin.end();
    },
    resize() {
      // No terminal, nothing to resize.
    },
    pause() {
      paused = true;
      stdout.pause();
      stderr.pause();
    },
    resume() {
      paused = false;
      lastOutput = Date.now();
      stdout.resume();
      stderr.resume();
    },
    signal(name) {
      const sig = clientSignal(name);
      if (!sig || exit.done || pid <= 0) return;
      try {
        process.kill(-pid, sig);
      } catch {
        // Already gone.
      }
    },
    onExit: (cb) => exit.add(cb),
    terminate: (graceMs) => container.terminate(graceMs),
  };
}
