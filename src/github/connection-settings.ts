import type { Config } from '../config/load.js';
import { VERSION } from '../version.js';
import type { GitHubProbeOptions } from './probe.js';

/** The GitHub connection settings every GitHub user in teamssh shares (directory, check), in milliseconds. */
export function gitHubConnection(config: Config): Omit<GitHubProbeOptions, 'logger'> {
  return {
    apiUrl: config.github.apiUrl,
    token: config.github.token ?? '',
    app: config.github.app,
    org: config.github.org,
    teams: [...config.github.teams],
    requestTimeoutMs: config.github.requestTimeoutMs,
    userAgent: `teamssh/${VERSION}`,
  };
}
