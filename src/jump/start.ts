import type { Config } from '../config/load.js';
import { JumpService } from './jump-service.js';
import { jumpKeyPath, loadJumpKey } from './jump-key.js';

/** The server's JumpService, or undefined when no target is configured (then no jump key is made either). */
export async function jumpServiceFor(config: Config): Promise<JumpService | undefined> {
  if (config.targets.length === 0) return undefined;
  const key = await loadJumpKey(jumpKeyPath(config));
  return new JumpService(config.targets, key, { connectTimeoutMs: config.jump.connectTimeoutMs, clientEnvAllow: config.sessions.clientEnv });
}
