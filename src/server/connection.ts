import type { Connection, Session } from 'ssh2';
import type { Logger } from '../log.js';
import { LiveSession, type SessionDeps, type SessionRequest } from '../session/live-session.js';

/**
 * Serves one authenticated connection: session channels become LiveSessions; everything
 * else a client may ask for (port forwarding, X11, agent forwarding, subsystems such as
 * sftp) is refused and logged, because each would be a path around the recording.
 */
export function serveConnection(client: Connection, deps: SessionDeps, log: Logger): void {
  const live = new Set<LiveSession>();
  const refused = (what: string, detail?: Record<string, unknown>) =>
    log.warn({ event: 'channel_refused', request: what, login: deps.identity.login, remoteAddress: deps.ends.remoteAddress, ...detail }, `${what} refused`);

  client.on('tcpip', (_accept, reject, info) => {
    refused('port_forwarding_local', { destination: `${info.destIP}:${info.destPort}` });
    reject();
  });
  client.on('request', (_accept, reject, name, info) => {
    refused(name === 'tcpip-forward' || name === 'cancel-tcpip-forward' ? 'port_forwarding_remote' : `global_request:${name}`, { bind: info && 'bindAddr' in info ? `${info.bindAddr}:${info.bindPort}` : undefined });
    reject?.();
  });
  client.on('openssh.streamlocal', (_accept, reject) => {
    refused('streamlocal_forwarding');
    reject();
  });

  client.on('session', (accept) => {
    const channel = accept();
    onSession(channel);
  });

  client.on('close', () => {
    for (const s of live) s.end('connection_lost');
  });

  function onSession(sess: Session): void {
    const req: SessionRequest = { kind: 'shell', clientEnv: [] };
    let current: LiveSession | undefined;

    sess.on('pty', (accept, _reject, info) => {
      req.pty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24 };
      accept?.();
    });
    sess.on('env', (accept, _reject, info) => {
      // Filtering happens once, in buildSessionEnv; refused names are logged there.
      req.clientEnv.push({ key: info.key, val: info.val });
      accept?.();
    });
    sess.on('window-change', (accept, _reject, info) => {
      if (req.pty) Object.assign(req.pty, { cols: info.cols, rows: info.rows });
      current?.resize(info.cols, info.rows);
      accept?.();
    });
    sess.on('signal', (accept, _reject, info) => {
      current?.signal(info.name);
      accept?.();
    });
    sess.on('x11', (_accept, reject) => {
      refused('x11_forwarding');
      reject?.();
    });
    sess.on('auth-agent', (_accept, reject) => {
      refused('agent_forwarding');
      reject?.();
    });
    sess.on('subsystem', (_accept, reject, info) => {
      refused('subsystem', { subsystem: info.name });
      reject?.();
    });
    sess.on('sftp', (_accept, reject) => {
      refused('subsystem', { subsystem: 'sftp' });
      reject?.();
    });
    const start = (kind: 'shell' | 'exec', command?: string) => (accept: () => import('ssh2').ServerChannel) => {
      if (current) return; // one program per session channel, as in OpenSSH
      req.kind = kind;
      req.command = command;
      const channel = accept();
      current = new LiveSession(channel, req, deps);
      live.add(current);
      void current.done.then(() => live.delete(current!));
      current.start().catch((err: unknown) => {
        log.error({ event: 'session_error', err }, 'session failed to start');
        channel.stderr.write('teamssh: session failed to start\r\n');
        channel.exit(1);
        channel.end();
      });
    };
    sess.on('shell', (accept) => start('shell')(accept));
    sess.on('exec', (accept, _reject, info) => start('exec', info.command)(accept));
  }
}
