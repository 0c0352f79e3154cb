import type { Config } from '../config/load.js';
import { jumpServiceFor } from './start.js';
import { OnwardError } from './onward-connect.js';

/** One line of `teamssh check` about a target. */
export interface TargetCheckLine {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Connects to every target once, at the same time: reachable, its host key one of the
 * pinned ones, the jump key accepted. Authentication only; no session is opened, so nothing
 * runs on the targets. No targets configured: no lines.
 */
export async function checkTargets(config: Config): Promise<TargetCheckLine[]> {
  let jump;
  try {
    jump = await jumpServiceFor(config);
  } catch (err) {
    return [{ name: 'jump key', ok: false, detail: err instanceof Error ? err.message : String(err) }];
  }
  if (!jump) return [];
  const lines: TargetCheckLine[] = [{ name: 'jump key', ok: true, detail: `${jump.key.file}: ${jump.key.fingerprint}` }];
  const results = await Promise.all(
    jump.targets.map(async (t): Promise<TargetCheckLine> => {
      const name = `target ${t.name}`;
      const where = `${t.user}@${t.host}:${t.port}`;
      try {
        const conn = await jump.connect(t);
        conn.client.end();
        return { name, ok: true, detail: `${where} reachable, host key ${conn.hostKeyFingerprint} pinned, jump key accepted` };
      } catch (err) {
        if (!(err instanceof OnwardError)) return { name, ok: false, detail: `${where}: ${String(err)}` };
        const d = err.detail;
        const why =
          err.reason === 'target_host_key_mismatch'
            ? `presented host key ${String(d.presentedFingerprint)}, which is not pinned (pinned: ${(d.pinnedFingerprints as string[]).join(', ')})`
            : err.reason === 'target_key_refused'
              ? 'the jump key was refused: add the line `teamssh jump-key` prints to its authorized_keys'
              : err.reason === 'target_timeout'
                ? `no answer within ${config.jump.connectTimeoutMs / 1000}s`
                : `unreachable (${String(d.error)})`;
        return { name, ok: false, detail: `${where}: ${why}` };
      }
    }),
  );
  return [...lines, ...results];
}
