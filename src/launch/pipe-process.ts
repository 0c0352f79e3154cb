import { spawn } from 'node:child_process';
import { buildLaunchCommand, type LaunchCommand } from './launch-args.js';
import { sessionContainment } from './containment.js';
import { SESSION_MARKER } from './account-scan.js';
import { ChunkFanout, ExitOnce, clientSignal } from './process-events.js';
import { launchThroughSpawner, type LaunchEvents, type SpawnedChild } from './spawner-client.js';
import type { ExitInfo, Program, SpawnOptions } from './program.js';

// After the program exits, its output pipes may still be held open by a background
// process it left behind (`ssh host 'sleep 100 &'` hangs OpenSSH for that reason). We
// keep reading while output flows and stop once the pipes have been idle this long.
const LINGER_IDLE_MS = 1000;
const LINGER_TICK_MS = 100;
// Input written before the spawner answered is kept up to this much, then write() says "wait".
const EARLY_INPUT_LIMIT = 64 * 1024;

/** The direct path: a fork of the server per session, used when no spawner is available. */
function spawnDirect(cmd: LaunchCommand, env: Record<string, string>, events: LaunchEvents): void {
  const child = spawn(cmd.launcher, cmd.args, { env, stdio: 'pipe', detached: true, cwd: '/' });
  events.started({ pid: child.pid ?? -1, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr });
  child.on('exit', (code, sig) => events.exited(sig ? { code: null, signal: sig.replace(/^SIG/, '') } : { code: code ?? 0, signal: null }));
  // Spawning the launcher itself failed (EACCES, EAGAIN): report it like exec failure.
  child.on('error', () => events.failed(new Error('spawn failed')));
}

/**
 * Runs the launcher on three pipes, stdout and stderr kept apart, inside the session's
 * containment (its cgroup), started by the shared spawner (src/launch/spawner-client.ts)
 * or, without one, by child_process. Either way the child leads its own session and
 * process group (pid = sid = pgid).
 */
export function spawnPipeProgram(opts: SpawnOptions): Program {
  const container = (opts.containment ?? sessionContainment()).open(opts.account.uid, opts.env[SESSION_MARKER]);
  const out = new ChunkFanout();
  const err = new ChunkFanout();
  const exit = new ExitOnce();
  let paused = false;
  let lastOutput = Date.now();
  let child: SpawnedChild | undefined;
  // Before the spawner answers: input, EOF and terminate() wait here for the child.
  let early: Buffer[] = [];
  let earlyBytes = 0;
  let earlyEnd = false;
  let earlyDrain = false;
  const drainListeners: Array<() => void> = [];
  const drained = () => {
    for (const cb of drainListeners) cb();
  };
  let terminated = false;
  let status: ExitInfo | undefined;
  let linger: NodeJS.Timeout | undefined;
  let openOutputs = 2;

  const finish = () => {
    if (!status || exit.done) return;
    if (linger) clearInterval(linger);
    exit.fire(status);
  };
  const outputClosed = () => {
    // Exited and both output pipes reached EOF: the normal, fully drained case.
    if (--openOutputs === 0) finish();
  };

  const events: LaunchEvents = {
    started(c) {
      child = c;
      const { stdin, stdout, stderr, pid } = c;
      // A command without a pty has no job control: its process group is all the fallback needs.
      if (pid > 0) container.started(pid, 'group');
      if (terminated && pid > 0) {
        // terminate() came first and could not see this process yet.
        for (const target of [-pid, pid]) {
          try {
            process.kill(target, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      }
      stdout.on('data', (b: Buffer) => {
        lastOutput = Date.now();
        out.emit(b);
      });
      stderr.on('data', (b: Buffer) => {
        lastOutput = Date.now();
        err.emit(b);
      });
      stdout.on('close', outputClosed);
      stderr.on('close', outputClosed);
      // EPIPE when the program stops reading stdin is normal; it must not crash the server.
      stdin.on('error', () => {});
      stdout.on('error', () => {});
      stderr.on('error', () => {});
      if (paused) {
        stdout.pause();
        stderr.pause();
      }
      stdin.on('drain', drained);
      let flowing = true;
      for (const b of early) flowing = stdin.write(b);
      early = [];
      if (earlyEnd) stdin.end();
      // write() said "wait" before there was a child; if stdin took it all, nothing else will say "go".
      if (earlyDrain && flowing) queueMicrotask(drained);
    },
    exited(info) {
      status = info;
      // child_process resumes a child's output streams once it exits (flushStdio in Node's
      // lib/internal/child_process.js), paused or not, so a session whose client stopped
      // reading still ends; the spawner's streams must do the same (sessions.test.ts).
      process.nextTick(() => {
        child?.stdout.resume();
        child?.stderr.resume();
      });
      if (openOutputs === 0) return finish();
      linger = setInterval(() => {
        if (paused || Date.now() - lastOutput < LINGER_IDLE_MS) return;
        child?.stdout.destroy();
        child?.stderr.destroy();
        finish();
      }, LINGER_TICK_MS);
    },
    failed() {
      status ??= { code: 126, signal: null };
      finish();
    },
  };

  try {
    const cmd = buildLaunchCommand({ ...opts, cgroupDir: container.cgroupArg === '-' ? undefined : container.cgroupArg });
    const direct = () => spawnDirect(cmd, opts.env, events);
    if (!launchThroughSpawner(cmd, opts.env, events, direct)) direct();
  } catch (e) {
    void container.terminate(0).catch(() => undefined); // nothing started: this only removes the cgroup
    throw e;
  }

  return {
    get pid() {
      return child?.pid ?? -1;
    },
    onStdout: (cb) => out.add(cb),
    onStderr: (cb) => err.add(cb),
    write(b) {
      if (!child) {
        if (exit.done || earlyEnd) return true;
        early.push(b);
        earlyBytes += b.length;
        if (earlyBytes <= EARLY_INPUT_LIMIT) return true;
        earlyDrain = true;
        return false;
      }
      const { stdin } = child;
      if (stdin.destroyed || !stdin.writable) return true;
      return stdin.write(b);
    },
    onInputDrain: (cb) => void drainListeners.push(cb),
    endInput() {
      if (!child) earlyEnd = true;
      else if (!child.stdin.destroyed) child.stdin.end();
    },
    resize() {
      // No terminal, nothing to resize.
    },
    pause() {
      paused = true;
      child?.stdout.pause();
      child?.stderr.pause();
    },
    resume() {
      paused = false;
      lastOutput = Date.now();
      child?.stdout.resume();
      child?.stderr.resume();
    },
    signal(name) {
      const sig = clientSignal(name);
      const pid = child?.pid ?? -1;
      if (!sig || exit.done || pid <= 0) return;
      try {
        process.kill(-pid, sig);
      } catch {
        // Already gone.
      }
    },
    onExit: (cb) => exit.add(cb),
    terminate: (graceMs) => {
      terminated = true;
      return container.terminate(graceMs);
    },
  };
}
