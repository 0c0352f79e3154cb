import ssh2 from 'ssh2';
import type { Connection, ServerChannel } from 'ssh2';
import type { Config } from '../config/load.js';
import type { Identity, IdentitySource } from '../auth/types.js';
import type { Logger } from '../log.js';
import { authenticate } from '../server/authenticate.js';
import { serverAlgorithmsOptions } from '../server/algorithms.js';
import type { HostKey } from '../server/host-key.js';
import type { JumpService, Reachable } from './jump-service.js';
import { loadTargetHostKey } from './target-host-keys.js';

/**
 * ProxyJump (`ssh -J alice@bastion deploy@db1`) without a path around the recording: the
 * client's `direct-tcpip` channel to a target is not forwarded but answered by teamssh
 * itself, with an inner SSH server that presents the target's teamssh host key, demands a
 * key of the same GitHub login (signature checked, as outside), and then serves sessions
 * routed to that target exactly as `alice@db1@bastion` would be.
 */
export class ProxyJump {
  private readonly hostKeys = new Map<string, Promise<HostKey>>();
  private opened = 0;

  constructor(
    private readonly jump: JumpService,
    private readonly deps: { config: () => Config; sources: () => readonly IdentitySource[]; ident: string },
  ) {}

  /** The target a `direct-tcpip` destination names, if the outer login's teams may reach it. */
  destination(host: string, port: number, outer: Identity): Reachable | undefined {
    return this.jump.reachableDestination(host, port, outer.teams);
  }

  /**
   * Runs the inner SSH connection on `stream`; `serve` gets it once it authenticated, with
   * an identity routed to the target. Never throws: failures close the stream and are logged.
   */
  terminate(stream: ServerChannel, reach: Reachable, outer: Identity, remoteAddress: string, log: Logger, serve: (inner: Connection, identity: Identity, suffix: string) => void): void {
    const suffix = `j${++this.opened}`;
    const ilog = log.child({ proxyJump: suffix, target: reach.target.name });
    stream.on('error', () => undefined);
    void this.serverFor(reach)
      .then((server) => {
        server.once('connection', (inner) => {
          inner.on('error', (err: Error) => ilog.debug({ event: 'client_error', err: err.message }, 'inner connection error'));
          // ssh2 has no login grace time; the outer gate does not see inner connections.
          const grace = setTimeout(() => inner.end(), this.deps.config().auth.loginGraceMs);
          authenticate(inner, remoteAddress, { sources: this.deps.sources(), maxAuthTries: this.deps.config().auth.maxAuthTries, logger: ilog, requireLogin: outer.login }).then(
            (identity) => {
              clearTimeout(grace);
              ilog.info({ event: 'proxy_jump_authenticated', login: identity.login, fingerprint: identity.fingerprint }, 'inner ProxyJump connection authenticated');
              serve(inner, { ...identity, target: reach.target.name }, suffix);
            },
            () => clearTimeout(grace),
          );
        });
        server.injectSocket(stream as never);
      })
      .catch((err: unknown) => {
        ilog.error({ event: 'proxy_jump_failed', err }, 'ProxyJump inner server could not start');
        stream.destroy();
      });
  }

  /**
   * A fresh ssh2 server for one inner connection (its 'connection' event then belongs to this
   * stream alone), presenting the target's own teamssh host key, loaded once per target.
   */
  private async serverFor(reach: Reachable): Promise<ssh2.Server> {
    let key = this.hostKeys.get(reach.target.name);
    if (!key) {
      key = loadTargetHostKey(this.deps.config().stateDir, reach.target);
      this.hostKeys.set(reach.target.name, key);
      key.catch(() => this.hostKeys.delete(reach.target.name));
    }
    const server = new ssh2.Server(serverAlgorithmsOptions(this.deps.config().algorithms, [await key], this.deps.ident));
    server.on('error', () => undefined);
    return server;
  }
}
