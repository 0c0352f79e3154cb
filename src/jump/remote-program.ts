import type { ClientChannel } from 'ssh2';
import { ChunkFanout, ExitOnce, CLIENT_SIGNALS } from '../launch/process-events.js';
import type { ExitInfo, Program } from '../launch/program.js';
import { TeamsshError } from '../errors.js';
import type { OnwardConnection } from './onward-connect.js';

/** What the session on the target runs: a shell or a command, with or without a pty. */
export interface RemoteRequest {
  command?: string | undefined;
  pty?: { term: string; cols: number; rows: number } | undefined;
  /** Client variables that passed the allowlist; the target's sshd applies its own AcceptEnv too. */
  env: Record<string, string>;
}

/**
 * Opens the session channel on an authenticated onward connection (pty, env, shell or exec)
 * and wraps it at once, inside ssh2's callback: a short command's output, exit status and
 * close can arrive in the same packet batch as the channel's confirmation, before any
 * promise continuation would run, and their events would be lost.
 */
export function openRemoteProgram(conn: OnwardConnection, req: RemoteRequest): Promise<Program> {
  const pty = req.pty ? { term: req.pty.term, cols: req.pty.cols, rows: req.pty.rows, width: 0, height: 0 } : undefined;
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, ch: ClientChannel) =>
      err ? reject(new TeamsshError('ERR_JUMP_CHANNEL', 'the target refused the session', { cause: err })) : resolve(remoteProgram(conn, ch));
    if (req.command !== undefined) conn.client.exec(req.command, { env: req.env, ...(pty ? { pty } : {}) }, done);
    else conn.client.shell(pty ?? false, { env: req.env }, done);
  });
}

/**
 * A session on a target as a Program, so LiveSession runs it like a local one: the same
 * output pump and recording, limits, registry, kill and revocation. Output of the remote
 * pty (or stdout and stderr apart without one), input with back-pressure, EOF, window
 * changes and signals travel over the SSH channel, as the OpenSSH client carries them.
 */
function remoteProgram(conn: OnwardConnection, channel: ClientChannel): Program {
  const out = new ChunkFanout();
  const err = new ChunkFanout();
  const exit = new ExitOnce();
  let status: ExitInfo = { code: null, signal: null };
  let closed = false;
  const closedNow = new Promise<void>((resolve) => {
    const onClose = () => {
      closed = true;
      exit.fire(status);
      resolve();
    };
    channel.on('close', onClose);
    // A target that dies takes the channel with it: the session ends, it never waits forever.
    conn.client.on('close', onClose);
  });
  channel.on('data', (b: Buffer) => out.emit(b));
  channel.stderr.on('data', (b: Buffer) => err.emit(b));
  channel.on('error', () => undefined);
  channel.on('exit', (code: number | null, signal?: string) => {
    status = signal ? { code: null, signal: signal.replace(/^SIG/, '') } : { code: code ?? null, signal: null };
  });
  const connectionGone = new Promise<void>((resolve) => conn.client.once('close', () => resolve()));

  const wait = (p: Promise<void>, ms: number) => Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);

  return {
    pid: -1,
    onStdout: (cb) => out.add(cb),
    onStderr: (cb) => err.add(cb),
    write: (b) => (closed || !channel.writable ? true : channel.write(b)),
    onInputDrain: (cb) => void channel.on('drain', cb),
    endInput() {
      if (!closed) channel.end();
    },
    resize(cols, rows) {
      if (!closed && cols > 0 && rows > 0) channel.setWindow(rows, cols, 0, 0);
    },
    pause: () => void channel.pause(),
    resume: () => void channel.resume(),
    signal(name) {
      const bare = name.toUpperCase().replace(/^SIG/, '');
      // The same signals a local session takes; the target's sshd delivers them.
      if (!closed && CLIENT_SIGNALS.has(bare)) channel.signal(bare);
    },
    onExit: (cb) => exit.add(cb),
    /**
     * HUP through the channel, KILL after the grace, then the connection is closed: sshd
     * hangs up the pty (SIGHUP to its session) and closes the command's pipes, so nothing
     * the session started keeps running on the target.
     */
    async terminate(graceMs) {
      if (!closed) {
        channel.signal('HUP');
        await wait(closedNow, graceMs);
      }
      if (!closed) {
        channel.signal('KILL');
        channel.close();
        await wait(closedNow, 1000);
      }
      conn.client.end();
      await wait(connectionGone, 2000);
      conn.client.destroy();
    },
  };
}
