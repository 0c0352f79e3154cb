import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { ParsedKey } from 'ssh2';

/**
 * ssh2's parsed keys sign and verify by handing node:crypto a PEM string, which OpenSSL parses
 * again on every call: ~1 ms per host-key signature in each key exchange and ~0.75 ms per
 * check of a client's signature, on the event loop, for every login. A KeyObject made once
 * does the same operation without the parse (770 µs -> 46 µs for an ed25519 signature; the
 * bytes are identical, as pinned by test/unit/key-object-key.test.ts).
 */

/** ssh2's default hash per key type (keyParser.js), used when the caller names none. */
const DEFAULT_HASH: Readonly<Record<string, string | null>> = {
  'ssh-ed25519': null,
  'ssh-rsa': 'sha1',
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
};

/**
 * Gives an ssh2 parsed key `sign` and `verify` methods that use KeyObjects made here, once,
 * with ssh2's contract kept: same default hash, errors returned rather than thrown. The key
 * stays an ssh2 parsed key (ssh2.Server takes it as a host key, `{ key }`). A type this does
 * not know keeps ssh2's own methods.
 */
export function withKeyObjects<K extends ParsedKey>(key: K): K {
  if (!Object.hasOwn(DEFAULT_HASH, key.type)) return key;
  const defaultHash = DEFAULT_HASH[key.type] ?? null;
  const hashOf = (algo: unknown): string | null => (typeof algo === 'string' && algo ? algo : defaultHash);
  let publicKey: KeyObject;
  let privateKey: KeyObject | null;
  try {
    publicKey = createPublicKey(key.getPublicPEM());
    privateKey = key.isPrivateKey() ? createPrivateKey(key.getPrivatePEM()) : null;
  } catch {
    // OpenSSL refuses what ssh2 parsed: ssh2's own methods will report that as they always did.
    return key;
  }
  const own = key as unknown as {
    sign(data: Buffer, algo?: string): Buffer | Error;
    verify(data: Buffer, signature: Buffer, algo?: string): boolean | Error;
  };
  own.sign = (data, algo) => {
    if (privateKey === null) return new Error('No private key available');
    try {
      return sign(hashOf(algo), data, privateKey);
    } catch (err) {
      return err as Error;
    }
  };
  own.verify = (data, signature, algo) => {
    try {
      return verify(hashOf(algo), data, publicKey, signature);
    } catch (err) {
      return err as Error;
    }
  };
  return key;
}
