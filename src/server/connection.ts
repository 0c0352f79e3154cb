import type { Connection, ServerChannel, Session } from 'ssh2';
import type { Logger } from '../log.js';
import { LiveSession, type SessionDeps, type SessionRequest } from '../session/live-session.js';
import type { SessionRegistry } from '../session/registry.js';
import { routeSession, type SessionRouting } from '../jump/session-route.js';
import type { ProxyJump } from '../jump/proxy-jump.js';

/** What a connection's sessions share; each session gets its own admission from the registry. */
export type ConnectionDeps = Omit<SessionDeps, 'admission' | 'onward'> & { registry: SessionRegistry<LiveSession>; proxyJump?: ProxyJump | undefined } & SessionRouting;

/**
 * Serves one authenticated connection: session channels become LiveSessions; everything
 * else a client may ask for (port forwarding, X11, agent forwarding, subsystems such as
 * sftp) is refused and logged, because each would be a path around the recording.
 */
export function serveConnection(client: Connection, deps: ConnectionDeps, log: Logger): void {
  const { registry, jump: _jump, fixedTarget: _fixed, proxyJump, ...sessionDeps } = deps;
  const refused = (what: string, detail?: Record<string, unknown>) =>
    log.warn({ event: 'channel_refused', request: what, login: deps.identity.login, remoteAddress: deps.ends.remoteAddress, ...detail }, `${what} refused`);

  client.on('tcpip', (accept, reject, info) => {
    // ProxyJump to a target this login may reach: answered (and recorded) here, never forwarded.
    const reach = proxyJump?.destination(info.destIP, info.destPort, deps.identity);
    if (proxyJump && reach) {
      log.info({ event: 'proxy_jump', login: deps.identity.login, target: reach.target.name, destination: `${info.destIP}:${info.destPort}` }, 'ProxyJump to a target');
      proxyJump.terminate(accept(), reach, deps.identity, deps.ends.remoteAddress, log, (inner, identity, suffix) =>
        serveConnection(inner, { ...deps, identity, connectionId: `${deps.connectionId}/${suffix}` }, log),
      );
      return;
    }
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
    for (const s of registry.byConnection(deps.connectionId)) s.end('connection_lost');
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
    const start = (kind: 'shell' | 'exec', command?: string) => (accept: () => ServerChannel) => {
      if (current) return; // one program per session channel, as in OpenSSH
      req.kind = kind;
      req.command = command;
      const channel = accept();
      const route = routeSession(deps.identity, deps, log);
      if (route.refused !== undefined) {
        channel.stderr.write(`teamssh: ${route.refused}\r\n`);
        channel.exit(1);
        channel.end();
        return;
      }
      // The slot is reserved here, synchronously: channels opened at the same moment cannot overrun the cap.
      const admission = registry.tryAdmit(deps.identity.login);
      if (!admission) {
        const limit = deps.settings.maxPerLogin;
        log.warn({ event: 'session_refused', login: deps.identity.login, reason: 'session_limit', limit, remoteAddress: deps.ends.remoteAddress }, 'session refused');
        channel.stderr.write(`teamssh: too many sessions (limit ${limit})\r\n`);
        channel.exit(1);
        channel.end();
        return;
      }
      const session = new LiveSession(channel, req, { ...sessionDeps, admission, onward: route.onward });
      current = session;
      void session.start();
    };
    sess.on('shell', (accept) => start('shell')(accept));
    sess.on('exec', (accept, _reject, info) => start('exec', info.command)(accept));
  }
}
