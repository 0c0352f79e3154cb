import { ConfigError, type Config } from '../config/load.js';
import type { LiveConfig } from '../config/live.js';
import { reopenLogFile, type Logger } from '../log.js';

/** What a reload did: the settings applied and deferred, or every problem of a refused config. */
export type ReloadOutcome = { ok: true; applied: string[]; deferred: string[] } | { ok: false; problems: string[] };

/** How a reload gets the new configuration: the loader (and the pre-flight checks) run again on the same file and environment. */
export type Reread = () => Config | Promise<Config>;

/**
 * One reload, for SIGHUP and `teamssh reload` alike: reopens TEAMSSH_LOG_FILE (logrotate has
 * moved it), re-reads and validates the whole configuration, and hands a valid one to `live`.
 * An invalid configuration changes nothing and is logged as one line naming every problem.
 * Only setting names are logged, never values: some of them are secrets.
 */
export async function reloadConfig(live: LiveConfig, reread: Reread, logger: Logger): Promise<ReloadOutcome> {
  const log = logger.child({ component: 'reload' });
  reopenLogFile(logger, (err) => log.error({ event: 'log_reopen_failed', code: 'ERR_LOG_FILE', err: err.message }, 'cannot reopen the log file; lines go to stdout only'));
  let next: Config;
  try {
    next = await reread();
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [String(err)];
    log.error({ event: 'reload_failed', code: 'ERR_CONFIG', problems }, `reload refused, configuration unchanged: ${problems.join('; ')}`);
    return { ok: false, problems };
  }
  const { applied, deferred } = live.apply(next);
  for (const setting of deferred) log.warn({ event: 'reload_deferred', setting }, `${setting} changed; applies at restart`);
  log.info(
    { event: 'reload', applied, deferred },
    applied.length + deferred.length === 0 ? 'reload: nothing changed' : `reload: applied ${applied.join(', ') || 'nothing'}${deferred.length ? `; applies at restart: ${deferred.join(', ')}` : ''}`,
  );
  return { ok: true, applied, deferred };
}
