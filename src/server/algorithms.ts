import { createRequire } from 'node:module';
import type ssh2 from 'ssh2';
import type { HostKey } from './host-key.js';

/**
 * The SSH algorithms teamssh offers. The defaults are what a hardened OpenSSH sshd offers
 * (docs/algorithms.md): hybrid post-quantum and curve25519 key exchange, AEAD and CTR
 * ciphers, encrypt-then-MAC MACs; ssh2 always adds strict key exchange (Terrapin). Each list
 * is configurable for operators who must serve an old client.
 */

/** ssh2's own lists of what it can speak (after our patches), read once. */
const supported = (() => {
  const c = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<string, string[]>;
  return { kex: c.SUPPORTED_KEX!, cipher: c.SUPPORTED_CIPHER!, mac: c.SUPPORTED_MAC!, serverHostKey: c.SUPPORTED_SERVER_HOST_KEY! };
})();

/** Default key exchange: ML-KEM-768 + X25519 hybrid first, then X25519. */
export const DEFAULT_KEX = ['mlkem768x25519-sha256', 'curve25519-sha256', 'curve25519-sha256@libssh.org'] as const;
/** Default ciphers: AEAD first, CTR for clients without them. */
export const DEFAULT_CIPHERS = ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com', 'aes256-ctr', 'aes192-ctr', 'aes128-ctr'] as const;
/** Default MACs (used with the CTR ciphers only): encrypt-then-MAC with SHA-2. */
export const DEFAULT_MACS = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'] as const;
/**
 * Default host key algorithms. The ECDSA P-256 host key is generated like sshd's but not
 * offered unless listed: audits fail NIST curves. RSA signs with SHA-2 only.
 */
export const DEFAULT_HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'] as const;

/**
 * The user-key signature algorithms teamssh accepts, advertised in `server-sig-algs`
 * (RFC 8308) so clients pick one that works: no `ssh-rsa` (SHA-1, refused by the signature
 * check), no `ssh-dss`, no FIDO `sk-*` (ssh2 cannot verify them).
 */
export const ACCEPTED_USER_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'] as const;

/** Which algorithm list a setting configures. */
export type AlgorithmKind = keyof typeof supported;

/** Names in `list` that ssh2 cannot speak for `kind`; empty when the list is usable. */
export function unsupportedAlgorithms(kind: AlgorithmKind, list: readonly string[]): string[] {
  return list.filter((name) => !supported[kind].includes(name));
}

/** The configured algorithm lists (see `algorithms.*` in the settings table). */
export interface AlgorithmSettings {
  kex: readonly string[];
  ciphers: readonly string[];
  macs: readonly string[];
  hostKeyAlgorithms: readonly string[];
}

/** The host key algorithms a key of this ssh2 type can sign with. */
function algorithmsOf(type: string): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}

/**
 * ssh2.Server options for the configured algorithms and host keys. Keys whose algorithms
 * are all left out are not handed to ssh2 at all, since ssh2 offers every key it is given.
 */
export function serverAlgorithmsOptions(algorithms: AlgorithmSettings, hostKeys: readonly HostKey[], ident: string): ssh2.ServerConfig {
  const offered = hostKeys.filter((k) => algorithmsOf(k.type).some((a) => algorithms.hostKeyAlgorithms.includes(a)));
  if (offered.length === 0) {
    throw new Error(`no host key can sign with any of TEAMSSH_HOST_KEY_ALGORITHMS (${algorithms.hostKeyAlgorithms.join(',')}); host keys: ${hostKeys.map((k) => k.type).join(',')}`);
  }
  return {
    hostKeys: offered.map((k) => ({ key: k.signer })),
    ident,
    algorithms: {
      kex: [...algorithms.kex],
      cipher: [...algorithms.ciphers] as ssh2.CipherAlgorithm[],
      hmac: [...algorithms.macs] as ssh2.MacAlgorithm[],
      serverHostKey: [...algorithms.hostKeyAlgorithms] as ssh2.ServerHostKeyAlgorithm[],
      // As sshd: no compression before authentication (zlib), delayed zlib@openssh.com after it.
      compress: ['none', 'zlib@openssh.com'],
    },
    // Our ssh2 patch (patches/ssh2+1.17.0+001+server-sig-algs.patch) reads this.
    serverSigAlgs: [...ACCEPTED_USER_KEY_ALGORITHMS],
  } as ssh2.ServerConfig;
}
