import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';

import type { OfferedKey } from './types.js';

const { utils } = ssh2;


/** The OpenSSH `SHA256:` fingerprint of a public key blob, as `ssh-keygen -lf` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The OpenSSH one-line form of a key (`type base64`), what GitHub lists and hooks receive. */
export function keyLine(key: OfferedKey): string {
  return `${key.algo} ${key.data.toString('base64')}`;
}

/** Why a signed request was refused before any identity question was asked. */
export type SignatureProblem = 'sha1_signature' | 'bad_signature';

/**
 * Checks the client's proof of possession. ssh2 accepts a signed request without checking
 * the signature (docs/external-systems.md §4), and GitHub publishes every public key, so this check is
 * the only thing standing between "knows alice's public key" and "is alice".
 */
export function checkSignature(key: OfferedKey, blob: Buffer, signature: Buffer, hashAlgo: string | undefined): SignatureProblem | undefined {
  // ssh-rsa with no hash algorithm means the legacy SHA-1 signature, which is refused.
  if (key.algo === 'ssh-rsa' && (hashAlgo === undefined || hashAlgo === 'sha1')) return 'sha1_signature';
  const parsed = utils.parseKey(key.data);
  if (parsed instanceof Error) return 'bad_signature';
  const k = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!k || k.type !== key.algo) return 'bad_signature';
  // verify() may return an Error object instead of false: only a literal true proves possession.
  return (k.verify(blob, signature, hashAlgo as never) as unknown) === true ? undefined : 'bad_signature';
}
