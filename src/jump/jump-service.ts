import type { Logger } from '../log.js';
import { buildSessionEnv } from '../launch/env.js';
import type { Program } from '../launch/program.js';
import type { JumpKey } from './jump-key.js';
import { connectTarget, OnwardError, type OnwardConnection } from './onward-connect.js';
import { openRemoteProgram } from './remote-program.js';
import type { Target } from './target-schema.js';

/** A target a login may reach, and the configured team that lets it. */
export interface Reachable {
  target: Target;
  team: string;
}

/** What a session on a target is, for the sidecar and the audit log. */
export interface TargetFacts {
  target: string;
  targetHost: string;
  targetPort: number;
  targetUser: string;
  /** `SHA256:` of the host key the target presented (one of the pinned keys); null before connecting. */
  targetHostKey: string | null;
}

/** What LiveSession asks of a jump session: connect, open the session channel, hand back a Program. */
export interface Onward {
  readonly target: Target;
  readonly team: string;
  /** Facts as known so far (the host key fingerprint once connected). */
  facts(): TargetFacts;
  /**
   * Connects, authenticates and opens the session; rejects with an OnwardError whose message
   * is the one line for the user (already logged with its reason).
   */
  start(req: { command?: string | undefined; pty?: { term: string; cols: number; rows: number } | undefined; clientEnv: Array<{ key: string; val: string }> }): Promise<Program>;
}

/**
 * The configured targets and the jump key: who may reach what, and the onward sessions.
 * One instance per server; `connect` is injectable so `teamssh check` and tests share it.
 */
export class JumpService {
  constructor(
    readonly targets: readonly Target[],
    readonly key: JumpKey,
    private readonly opts: { connectTimeoutMs: number; clientEnvAllow: readonly string[] },
  ) {}

  /** The target `name` if one of `teams` may reach it; unknown and not allowed look the same to the user. */
  reachable(name: string, teams: readonly string[]): Reachable | undefined {
    return this.allow(this.targets.find((t) => t.name === name.toLowerCase()), teams);
  }

  /** ProxyJump's destination: a target name (any port 22 or its port), or its exact host and port. */
  reachableDestination(host: string, port: number, teams: readonly string[]): Reachable | undefined {
    const h = host.toLowerCase();
    const t = this.targets.find((x) => x.name === h && (port === x.port || port === 22)) ?? this.targets.find((x) => x.host.toLowerCase() === h && x.port === port);
    return this.allow(t, teams);
  }

  private allow(target: Target | undefined, teams: readonly string[]): Reachable | undefined {
    if (!target) return undefined;
    const member = new Set(teams.map((t) => t.toLowerCase()));
    const team = target.teams.find((t) => member.has(t.toLowerCase()));
    return team ? { target, team } : undefined;
  }

  /** Connects to a target and authenticates with the jump key (no session): `teamssh check` and sessions. */
  connect(target: Target): Promise<OnwardConnection> {
    return connectTarget(target, this.key, { timeoutMs: this.opts.connectTimeoutMs });
  }

  /** A session onward to `r.target`, logging each failure with its reason on `log`. */
  onward(r: Reachable, log: Logger): Onward {
    const facts: TargetFacts = { target: r.target.name, targetHost: r.target.host, targetPort: r.target.port, targetUser: r.target.user, targetHostKey: null };
    return {
      target: r.target,
      team: r.team,
      facts: () => ({ ...facts }),
      start: async (req) => {
        let conn: OnwardConnection;
        try {
          conn = await this.connect(r.target);
        } catch (err) {
          if (err instanceof OnwardError) log.warn({ event: err.reason, ...facts, ...err.detail }, `onward connection failed: ${err.message}`);
          throw err;
        }
        facts.targetHostKey = conn.hostKeyFingerprint;
        try {
          return await openRemoteProgram(conn, { command: req.command, pty: req.pty, env: this.clientEnv(req.clientEnv) });
        } catch (err) {
          log.warn({ event: 'target_session_refused', ...facts, err }, 'target refused the session channel');
          conn.client.end();
          throw err;
        }
      },
    };
  }

  /** The client's variables that pass the same allowlist (and never-list) as local sessions; nothing else. */
  private clientEnv(clientEnv: Array<{ key: string; val: string }>): Record<string, string> {
    const { env, refused } = buildSessionEnv({
      account: { name: '', home: '', shell: '' },
      path: '',
      connection: { remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0 },
      githubLogin: '',
      sessionId: '',
      clientEnv,
      clientEnvAllow: [...this.opts.clientEnvAllow],
    });
    const sent: Record<string, string> = {};
    for (const { key } of clientEnv) if (!refused.includes(key) && env[key] !== undefined) sent[key] = env[key];
    return sent;
  }
}
