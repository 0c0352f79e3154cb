/** Why a login was refused; stable codes for logs, metrics and tests. */
export type DenyReason = 'not_member' | 'pending_invitation' | 'no_such_user' | 'key_not_on_github' | 'unsupported_key_type';

/**
 * The three-state answer to "may key K log in as user U": allow, deny, or unavailable
 * (GitHub could not be asked; that is not a wrong key and must not be logged as one).
 */
export type AuthDecision =
  | { kind: 'allow'; login: string; teams: string[]; stale: boolean }
  | { kind: 'deny'; reason: DenyReason }
  | { kind: 'unavailable'; reason: string };

/** The public key a client offered, as ssh2 reports it (`ctx.key.algo`, `ctx.key.data`). */
export interface OfferedKey {
  algo: string;
  data: Buffer;
}

/** One line per deny reason, for the server log (never key material or tokens). */
export const DENY_MESSAGES: Readonly<Record<DenyReason, string>> = Object.freeze({
  not_member: 'user is not an active member of any configured GitHub team',
  pending_invitation: 'user has only a pending (not yet accepted) invitation to the configured GitHub teams',
  no_such_user: 'no GitHub account has this login',
  key_not_on_github: 'the offered key is not one of the user\'s GitHub SSH keys',
  unsupported_key_type:
    'the offered key is a FIDO security key (sk-*) or an OpenSSH certificate, which this server (ssh2) cannot verify; use an ed25519, ecdsa or rsa key registered on GitHub',
});
