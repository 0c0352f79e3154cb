import net from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { TeamsshError } from '../errors.js';
import type { ReloadOutcome } from '../server/reload.js';
import { MAX_REQUEST_BYTES, type ControlRequest, type ControlResponse, type Operator, type SessionSummary } from './protocol.js';

/** What the control socket can do with the live sessions. */
export interface ControlTarget {
  list(): SessionSummary[];
  /** Ends the selected sessions with end reason `killed`; returns their ids. */
  kill(select: { sessionId?: string | undefined; login?: string | undefined }, operator: Operator): string[];
  /** Re-reads and applies the configuration (absent: the server cannot reload). */
  reload?(): Promise<ReloadOutcome>;
}

/** A listening control socket. */
export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 5000;

/** True when something answers on the Unix socket at `file`. */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Listens on the Unix socket `file` (mode 0600: only the account the server runs as, root,
 * may connect). A socket left by a crashed server is replaced; a live one is an error, so two
 * servers never share a state directory by accident. Throws ERR_CONTROL_SOCKET.
 */
export async function startControlServer(file: string, target: ControlTarget, log: Logger): Promise<ControlServer> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const st = await lstat(file).catch(() => undefined);
  if (st) {
    if (!st.isSocket()) throw new TeamsshError('ERR_CONTROL_SOCKET', `${file} exists and is not a socket; remove it or set TEAMSSH_CONTROL_SOCKET`);
    if (await answers(file)) throw new TeamsshError('ERR_CONTROL_SOCKET', `another teamssh server is listening on ${file}`);
    await unlink(file);
  }
  const server = net.createServer((conn) => serve(conn, target, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TeamsshError('ERR_CONTROL_SOCKET', `cannot listen on ${file}`, { cause: err })));
    server.listen(file, () => resolve());
  });
  // The default umask already denies others write (and so connect); this makes it owner-only.
  await chmod(file, 0o600);
  server.on('error', (err) => log.error({ err }, 'control socket error'));
  return {
    path: file,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        void unlink(file).catch(() => {});
      }),
  };
}

function serve(conn: net.Socket, target: ControlTarget, log: Logger): void {
  let buf = '';
  const reply = (r: ControlResponse) => conn.end(`${JSON.stringify(r)}\n`);
  conn.setTimeout(REQUEST_TIMEOUT_MS, () => conn.destroy());
  conn.on('error', () => {});
  conn.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    if (buf.length > MAX_REQUEST_BYTES) return reply({ ok: false, error: 'request too large' });
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    conn.removeAllListeners('data');
    let req: ControlRequest;
    try {
      req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
    } catch {
      return reply({ ok: false, error: 'request is not JSON' });
    }
    try {
      if (req.command === 'sessions') return reply({ ok: true, sessions: target.list() });
      if (req.command === 'kill') {
        if (!req.sessionId && !req.login) return reply({ ok: false, error: 'name a session id or a login' });
        return reply({ ok: true, killed: target.kill({ sessionId: req.sessionId, login: req.login }, req.operator) });
      }
      if (req.command === 'reload' && target.reload) {
        return void target.reload().then(
          (r) => reply(r.ok ? { ok: true, reload: { applied: r.applied, deferred: r.deferred } } : { ok: false, error: 'invalid configuration; nothing changed', problems: r.problems }),
          (err: unknown) => {
            log.error({ err }, 'control request failed');
            reply({ ok: false, error: 'internal error' });
          },
        );
      }
      return reply({ ok: false, error: 'unknown command' });
    } catch (err) {
      log.error({ err }, 'control request failed');
      return reply({ ok: false, error: 'internal error' });
    }
  });
}
