import type { Config } from '../config/load.js';
import type { Route } from '../http/route.js';
import type { Logger } from '../log.js';
import { Revalidator } from './revalidator.js';
import { Revoker } from './revoker.js';
import type { LiveSessionSource, RevocationDirectory } from './types.js';
import { webhookRoute } from './webhook-route.js';

/** The configuration revocation reads, in milliseconds. */
export interface RevocationSettings {
  org: string;
  teams: readonly string[];
  /** Enables `POST /webhooks/github`; undefined = no webhook route (the listener answers 404). */
  webhookSecret: string | undefined;
  /** 0 turns revalidation off. */
  revalidateIntervalMs: number;
  /** A live session survives a GitHub outage this long after its last verification. */
  maxStaleMs: number;
}

/** Everything {@link startRevocation} needs. */
export interface RevocationOptions extends RevocationSettings {
  directory: RevocationDirectory;
  sessions: LiveSessionSource;
  logger: Logger;
  now?: () => number;
}

/** Running revocation: the routes to serve on the HTTP listener, and a stop. */
export interface RunningRevocation {
  /** Hand these to `startHttpListener` (empty without a webhook secret). */
  routes: Route[];
  revoker: Revoker;
  /** Applies a reload: new teams at the next check, a changed interval with a fresh schedule. */
  reconfigure(settings: Pick<RevocationSettings, 'teams' | 'revalidateIntervalMs'>): void;
  /** Stops revalidation and waits for the checks in flight. */
  stop(): Promise<void>;
}

/** Reads the revocation settings out of the configuration. */
export function revocationSettings(config: Config): RevocationSettings {
  return {
    org: config.github.org,
    teams: [...config.github.teams],
    webhookSecret: config.github.webhookSecret,
    revalidateIntervalMs: config.github.revalidateIntervalMs,
    maxStaleMs: config.github.cacheMaxStaleMs,
  };
}

/**
 * Wires revocation: the webhook route (when a secret is set) feeding the revoker, and the
 * periodic revalidation of live sessions (when the interval is not 0). Both end sessions
 * only on GitHub's API answer.
 */
export function startRevocation(opts: RevocationOptions): RunningRevocation {
  const log = opts.logger;
  const revoker = new Revoker({ ...opts, logger: log });
  const routes: Route[] = [];
  if (opts.webhookSecret) {
    routes.push(webhookRoute({ secret: opts.webhookSecret, logger: log, onRequest: (req) => void revoker.request(req) }));
  }
  const revalidatorFor = (intervalMs: number) => (intervalMs > 0 ? new Revalidator({ intervalMs, sessions: opts.sessions, revoker, logger: log }) : undefined);
  let intervalMs = opts.revalidateIntervalMs;
  let revalidator = revalidatorFor(intervalMs);
  let stopped = false;
  revalidator?.start();
  log.info(
    { event: 'revocation_started', webhooks: routes.length > 0, revalidateIntervalSeconds: opts.revalidateIntervalMs / 1000, maxStaleSeconds: opts.maxStaleMs / 1000 },
    `revocation: webhooks ${routes.length > 0 ? 'on' : 'off'}, revalidation ${revalidator ? `every ${opts.revalidateIntervalMs / 1000}s` : 'off'}`,
  );
  return {
    routes,
    revoker,
    reconfigure: (s) => {
      revoker.setTeams(s.teams);
      if (stopped || s.revalidateIntervalMs === intervalMs) return;
      // The old schedule ends after its check in flight; the new one starts one interval from now.
      void revalidator?.stop();
      intervalMs = s.revalidateIntervalMs;
      revalidator = revalidatorFor(intervalMs);
      revalidator?.start();
      log.info({ event: 'revocation_started', revalidateIntervalSeconds: intervalMs / 1000 }, `revocation: revalidation ${revalidator ? `every ${intervalMs / 1000}s` : 'off'}`);
    },
    stop: async () => {
      stopped = true;
      await revalidator?.stop();
      await revoker.idle();
    },
  };
}
