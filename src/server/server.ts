import net from 'node:net';
import os from 'node:os';
import ssh2 from 'ssh2';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { ConnectionGate } from './connection-gate.js';
import { loadHostKeys } from './host-key.js';
import { serverAlgorithmsOptions } from './algorithms.js';
import { authenticate } from './authenticate.js';
import { serveConnection } from './connection.js';
import type { LiveSession } from '../session/live-session.js';
import { SessionRegistry } from '../session/registry.js';
import { startControlServer } from '../control/control-server.js';
import { sessionControl } from './session-control.js';
import { revocableSessions } from './revocable-sessions.js';
import { startRevocation, revocationSettings } from '../revocation/start.js';
import { startHttpListener } from '../http/listener.js';
import { hookSources } from '../auth/hooks.js';
import { gitHubIdentitySource } from '../auth/decide.js';
import { GitHubDirectory } from '../github/directory.js';
import { gitHubConnection } from '../github/connection-settings.js';
import { ensureRecordingsDir } from '../recording/recordings-dir.js';
import { recoverPartials } from '../recording/recover.js';
import { loadSigningKey } from '../recording/signing-key.js';
import { logContainment, useContainment } from '../launch/containment.js';
import { onSpawnerDeath } from '../launch/spawner-client.js';
import { LiveConfig } from '../config/live.js';
import { reloadConfig, type ReloadOutcome, type Reread } from './reload.js';
import { metricsRoute } from '../metrics/metrics-route.js';
import { registry } from '../metrics/metrics.js';
import { uploadPaused, watchRecordingsDir, watchServer } from '../metrics/live-gauges.js';
import { serverReadiness, healthRoutes, type Readiness } from '../health/readiness.js';
import { githubPulse } from '../github/pulse.js';
import { jumpServiceFor } from '../jump/start.js';
import { ProxyJump } from '../jump/proxy-jump.js';

/** A running server, as `teamssh serve` and the tests hold it. */
export interface RunningServer {
  /** Where it listens (the real port when the config asked for port 0). */
  address: { host: string; port: number };
  /** Where the HTTP listener (webhooks) listens, when TEAMSSH_HTTP_LISTEN is set. */
  httpAddress: { host: string; port: number } | undefined;
  directory: GitHubDirectory;
  /** The live sessions: the one place that owns them. */
  sessions: SessionRegistry<LiveSession>;
  /** The configuration in effect; a reload changes its live settings. */
  live: LiveConfig;
  /** SIGHUP and `teamssh reload`: reopen the log file, re-read, validate and apply the configuration. */
  reload(): Promise<ReloadOutcome>;
  /** What `GET /readyz` answers. */
  readiness: Readiness;
  /** Graceful stop: stop accepting, tell live sessions, wait the grace, end the rest, finish recordings. */
  shutdown(): Promise<void>;
}

/**
 * Wires the server: socket → gate (grace time, unauthenticated cap) → ssh2 → authentication
 * (signature, GitHub, hooks) → connection (sessions only) → LiveSession. Nothing downstream
 * reaches back up this chain.
 */
export async function startServer(config: Config, logger: Logger, opts: { directory?: GitHubDirectory; reread?: Reread } = {}): Promise<RunningServer> {
  const log = logger.child({ component: 'ssh' });
  // Settings a reload may change are read from here when used; the rest were taken above and at start.
  const live = new LiveConfig(config);
  const cfg = () => live.current;
  try {
    await ensureRecordingsDir(config.recordings.dir);
  } catch (err) {
    if (!config.recordings.failOpen) throw err;
    log.error({ event: 'recording_failed', err }, 'recordings directory unusable; sessions will run UNRECORDED (recordings.failOpen)');
  }
  // Partials with no live session are from a crash: finalise them now so they ship like the rest.
  await recoverPartials(config.recordings.dir, log).catch((err: unknown) => log.error({ err }, 'recovering partial recordings failed'));
  const hostKeys = await loadHostKeys(config.hostKey);
  // Loaded (or generated) before the first session, so a bad key fails the start, not a session.
  const signing = { key: await loadSigningKey(config.signingKey) };
  logContainment(log, useContainment(config.sessions.containment));
  // The spawner only saves the fork of this process; when it dies, sessions still start (directly), only slower.
  onSpawnerDeath((d) => log.warn(d, d.directForGood ? 'session spawner died again: pipe sessions now fork the server directly (slower logins) until restart' : 'session spawner died: the next pipe session starts a new one'));
  const jump = await jumpServiceFor(config);

  const directory =
    opts.directory ??
    new GitHubDirectory({
      ...gitHubConnection(config),
      cacheTtlMs: config.github.cacheTtlMs,
      maxStaleMs: config.github.cacheMaxStaleMs,
      negativeTtlMs: config.github.negativeCacheTtlMs,
      logger: logger.child({ component: 'github' }),
    });
  const github = gitHubIdentitySource(directory);
  const sourcesNow = () => [github, ...hookSources(cfg().auth.hooks, { timeoutMs: cfg().auth.hookTimeoutMs, path: cfg().sessions.path, logger: log })];

  const proxyJump = jump ? new ProxyJump(jump, { config: cfg, sources: sourcesNow, ident: `teamssh_${VERSION}` }) : undefined;
  const sessions = new SessionRegistry<LiveSession>(() => cfg().sessions.maxPerLogin);
  let connections = 0;
  const gate = new ConnectionGate({
    get loginGraceMs() {
      return cfg().auth.loginGraceMs;
    },
    get maxUnauthenticated() {
      return cfg().auth.maxUnauthenticated;
    },
    logger: log,
  });
  const clients = new Set<ssh2.Connection>();
  const hostname = os.hostname();
  const pending = new Map<string, { socket: net.Socket; release: () => void }>();

  const ssh = new ssh2.Server(serverAlgorithmsOptions(config.algorithms, hostKeys, `teamssh_${VERSION}`));
  ssh.on('error', (err: Error) => log.error({ err }, 'ssh server error'));
  ssh.on('connection', (client, info) => {
    const peer = `${info.ip}:${info.port}`;
    const waiting = pending.get(peer);
    if (waiting) gate.talkingSsh(waiting.socket);
    const connectionId = `c${++connections}`;
    const conn = log.child({ remoteAddress: info.ip, remotePort: info.port, connectionId });
    clients.add(client);
    // One bad peer must never crash the process (docs/external-systems.md §4).
    client.on('error', (err: Error & { level?: string }) => conn.debug({ event: 'client_error', err: err.message, level: err.level }, 'client connection error'));
    client.on('close', () => clients.delete(client));
    authenticate(client, info.ip, { sources: sourcesNow(), maxAuthTries: cfg().auth.maxAuthTries, logger: conn }).then(
      (identity) => {
        waiting?.release();
        const localAddress = waiting?.socket.localAddress ?? config.listen.host;
        serveConnection(
          client,
          {
            settings: cfg().sessions,
            recordings: { ...cfg().recordings, signing },
            logger: conn.child({ login: identity.login }),
            identity,
            ends: { remoteAddress: info.ip, remotePort: info.port, localAddress, localPort: address.port },
            connectionId,
            hostname,
            version: VERSION,
            registry: sessions,
            jump,
            proxyJump,
          },
          conn,
        );
      },
      () => undefined, // closed before authenticating: the gate and the auth log said why
    );
  });

  const tcp = net.createServer({ noDelay: true }, (socket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const opened = Date.now();
    pending.set(peer, { socket, release: gate.admit(socket) });
    socket.on('error', () => undefined); // reported through the ssh2 client; never fatal
    coalesceWrites(socket);
    socket.once('close', () => {
      pending.delete(peer);
      log.debug({ event: 'disconnect', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, durationMs: Date.now() - opened }, 'connection closed');
    });
    ssh.injectSocket(socket);
  });
  tcp.on('error', (err) => log.error({ err }, 'listener error'));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(config.listen.port, config.listen.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  const bound = tcp.address() as net.AddressInfo;
  const address = { host: bound.address, port: bound.port };
  // One reload at a time: a SIGHUP during a `teamssh reload` waits for it.
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ReloadOutcome> => {
    const next = reloading.then(() => reloadConfig(live, opts.reread ?? (() => config), logger));
    reloading = next.catch(() => undefined);
    return next;
  };
  const control = await startControlServer(config.controlSocket, { ...sessionControl(sessions, log), reload }, log);
  // Removed on GitHub means out: webhooks trigger re-checks, revalidation catches the rest.
  const revocation = startRevocation({ ...revocationSettings(config), directory, sessions: revocableSessions(sessions), logger: logger.child({ component: 'revocation' }) });
  live.onChange((c, change) => {
    if (change.applied.includes('TEAMSSH_LOG_LEVEL')) logger.level = c.logLevel;
    directory.setTeams(c.github.teams);
    revocation.reconfigure({ teams: c.github.teams, revalidateIntervalMs: c.github.revalidateIntervalMs });
  });
  const unwatch = [
    watchServer({ connections: () => clients.size, unauthenticated: () => gate.size, sessionKinds: () => sessions.all().map((s) => s.kind) }),
    watchRecordingsDir(config.recordings.dir),
  ];
  const readiness = serverReadiness({ sshListening: () => tcp.listening, recordingsDir: config.recordings.dir, maxStaleMs: config.github.cacheMaxStaleMs, github: githubPulse, uploadPaused });
  const routes = [...revocation.routes, metricsRoute({ token: config.http.metricsToken, registry }), ...healthRoutes(readiness)];
  const http = config.http.listen ? await startHttpListener(config.http.listen, routes, logger.child({ component: 'http' })) : undefined;
  log.info({ event: 'listening', host: address.host, port: address.port, org: config.github.org, teams: config.github.teams, recordings: config.recordings.dir }, `teamssh listening on ${address.host}:${address.port}`);

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      // Not ready first, so a load balancer drains this node before sessions are told to end;
      // the HTTP listener stays up until they have ended, answering /readyz with 503.
      readiness.drain();
      log.info({ event: 'shutdown', liveSessions: sessions.size }, 'shutting down: no new connections');
      tcp.close();
      gate.closeAll();
      await control.close();
      await revocation.stop();
      const running = sessions.all();
      const { shutdownGraceMs, killGraceMs } = cfg().sessions;
      for (const s of running) s.notify(`server is shutting down; this session ends in ${shutdownGraceMs / 1000}s`);
      const all = Promise.all(running.map((s) => s.done));
      const graceOver = await Promise.race([all.then(() => false), sleep(shutdownGraceMs).then(() => true)]);
      if (graceOver) for (const s of sessions.all()) s.end('shutdown', 'server shut down; session closed');
      await Promise.race([Promise.all(sessions.all().map((s) => s.done)), all, sleep(killGraceMs + 5000)]);
      for (const c of clients) c.end();
      await http?.close();
      for (const stop of unwatch) stop();
    })());

  return { address, httpAddress: http?.address, directory, sessions, live, reload, readiness, shutdown };
}

/**
 * ssh2 writes every SSH packet with its own socket.write, one syscall each; a handshake or a
 * burst of channel data makes many in one tick. Corking until the next tick sends them as one
 * writev. Found with --cpu-prof: socket writes were the largest cost per connection.
 */
function coalesceWrites(socket: net.Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof socket.write;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
