import type { Config } from '../config/load.js';
import { jumpKeyPath, loadJumpKey } from './jump-key.js';
import { knownHostsLine, loadTargetHostKey } from './target-host-keys.js';

/**
 * What `teamssh jump-key` prints: the jump key's public line, or with `--known-hosts` one known_hosts line per target
 * for users of `ssh -J`. Missing keys are generated, so the output is what the server will use.
 */
export async function jumpKeyCommand(config: Config, knownHosts: boolean): Promise<string> {
  if (knownHosts) {
    const lines = [];
    for (const t of config.targets) lines.push(knownHostsLine(t, await loadTargetHostKey(config.stateDir, t)));
    return lines.length ? `${lines.join('\n')}\n` : '';
  }
  const key = await loadJumpKey(jumpKeyPath(config));
  // One line only, so `teamssh jump-key >> authorized_keys` and `$(teamssh jump-key)` work; the README shows the restricted form.
  return `${key.publicLine}\n`;
}
