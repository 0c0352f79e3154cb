import path from 'node:path';
import ssh2 from 'ssh2';
import { loadHostKey } from '../server/host-key.js';
import { TeamsshError } from '../errors.js';

/** The key teamssh authenticates to targets with (its private half never leaves the state dir). */
export interface JumpKey {
  file: string;
  /** The private key file's contents, as ssh2's client takes them. */
  pem: Buffer;
  /** `ssh-ed25519 AAAA... teamssh-jump`, the line for a target's authorized_keys. */
  publicLine: string;
  fingerprint: string;
}

/** Where the jump key is: `jump.key`, else `<stateDir>/jump_ed25519_key`. */
export function jumpKeyPath(config: { stateDir: string; jump: { key?: string | undefined } }): string {
  return config.jump.key ?? path.join(config.stateDir, 'jump_ed25519_key');
}

/**
 * Reads the jump key, generating it (ed25519, mode 0600, O_EXCL) when missing. The host key
 * loader already does exactly this for files, so it is reused; an existing key is never
 * rewritten, so targets keep trusting it.
 */
export async function loadJumpKey(file: string): Promise<JumpKey> {
  let key;
  try {
    key = await loadHostKey(file);
  } catch (err) {
    throw new TeamsshError('ERR_JUMP_KEY', `jump key ${file} cannot be created or read: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ssh2.utils.parseKey(key.pem);
  const k = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!k || k instanceof Error) throw new TeamsshError('ERR_JUMP_KEY', `jump key ${file} is not a private key`);
  return { file, pem: key.pem, publicLine: `${k.type} ${k.getPublicSSH().toString('base64')} teamssh-jump`, fingerprint: key.fingerprint };
}

