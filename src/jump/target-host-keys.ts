import path from 'node:path';
import ssh2 from 'ssh2';
import { loadHostKey, type HostKey } from '../server/host-key.js';
import type { Target } from './target-schema.js';

/**
 * The host key teamssh presents as a target on the inner connection of a ProxyJump: one per
 * target, generated once (ed25519, 0600) in the state dir and kept, so users' known_hosts
 * lines stay valid. It is teamssh's key, not the target's: users trust teamssh to be the target.
 */
export function targetHostKeyPath(stateDir: string, target: Pick<Target, 'name'>): string {
  return path.join(stateDir, 'jump-targets', `${target.name}_ed25519_key`);
}

/** Loads (or generates) the ProxyJump host key of `target`. */
export function loadTargetHostKey(stateDir: string, target: Pick<Target, 'name'>): Promise<HostKey> {
  return loadHostKey(targetHostKeyPath(stateDir, target));
}

/**
 * The known_hosts line users add for a target reached with `ssh -J`: under its name and its
 * address, as the OpenSSH client looks them up (`[host]:port` when the port is not 22).
 */
export function knownHostsLine(target: Pick<Target, 'name' | 'host' | 'port'>, key: HostKey): string {
  const parsed = ssh2.utils.parseKey(key.pem);
  const k = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!k || k instanceof Error) throw new Error(`host key ${key.file} cannot be parsed`);
  // `ssh -J bastion db1` asks for db1 on port 22 (teamssh accepts a target's name on 22 or its own port).
  const at = (h: string) => (target.port === 22 ? h : `[${h}]:${target.port}`);
  const names = [target.name, at(target.name), at(target.host)];
  return `${[...new Set(names)].join(',')} ${k.type} ${k.getPublicSSH().toString('base64')}`;
}
