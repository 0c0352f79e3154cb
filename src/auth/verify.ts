import { createHash } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';
import { withKeyObjects } from './key-object-key.js';

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
  const k = verifierFor(key);
  if (!k) return 'bad_signature';
  // verify() may return an Error object instead of false: only a literal true proves possession.
  return (k.verify(blob, signature, hashAlgo as never) as unknown) === true ? undefined : 'bad_signature';
}

/**
 * Parsed public keys with a KeyObject each, by key blob: a member logs in with the same key
 * again and again, and ssh2's verify() re-parses a PEM per call (~0.75 ms per login). Bounded,
 * oldest out first, so keys offered by strangers cannot grow it.
 */
const verifiers = new Map<string, ParsedKey>();
const MAX_VERIFIERS = 1024;

function verifierFor(key: OfferedKey): ParsedKey | undefined {
  const id = `${key.algo} ${key.data.toString('base64')}`;
  const cached = verifiers.get(id);
  if (cached) {
    // Refresh its place so the keys in use stay while one-off keys age out.
    verifiers.delete(id);
    verifiers.set(id, cached);
    return cached;
  }
  const parsed = utils.parseKey(key.data);
  if (parsed instanceof Error) return undefined;
  const k = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!k || k.type !== key.algo) return undefined;
  const fast = withKeyObjects(k);
  if (verifiers.size >= MAX_VERIFIERS) verifiers.delete(verifiers.keys().next().value!);
  verifiers.set(id, fast);
  return fast;
}
