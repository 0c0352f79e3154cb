/** Why a login was refused by GitHub's answer; stable codes for logs, metrics and tests. */
export type DenyReason = 'not_member' | 'pending_invitation' | 'no_such_user' | 'key_not_on_github' | 'unsupported_key_type';

/** Every `auth_refused.reason` of the audit log. */
export type RefusalReason =
  | DenyReason
  | 'bad_signature'
  | 'sha1_signature'
  | 'github_unavailable'
  | 'hook_denied'
  | 'hook_unavailable'
  | 'internal_error'
  | 'too_many_attempts';

/**
 * The three-state answer every identity source gives: allow, deny, or unavailable (the
 * source could not be asked; that is not a wrong key and must not be logged as one).
 * An allow may add environment variables for the session (auth hooks do), already filtered.
 */
export type AuthDecision =
  | { kind: 'allow'; login: string; teams: string[]; stale: boolean; env?: Readonly<Record<string, string>> }
  | { kind: 'deny'; reason: Extract<RefusalReason, DenyReason | 'hook_denied'>; detail?: string }
  | { kind: 'unavailable'; reason: 'github_unavailable' | 'hook_unavailable'; detail: string };

/** The public key a client offered, as ssh2 reports it (`ctx.key.algo`, `ctx.key.data`). */
export interface OfferedKey {
  algo: string;
  data: Buffer;
}

/** What an identity source is asked about one authentication attempt. */
export interface AuthRequest {
  /** The SSH user name as typed. */
  user: string;
  key: OfferedKey;
  /** `SHA256:` fingerprint of the key. */
  fingerprint: string;
  remoteAddress: string;
  /** What the sources before this one allowed (login, teams); absent for the first source. */
  granted?: { login: string; teams: readonly string[] } | undefined;
}

/**
 * One source of "may key K log in as user U": the GitHub directory, or an auth hook. A new
 * source is one more implementation of this, not new wiring in the server.
 */
export interface IdentitySource {
  /** For logs: `github`, or the hook's path. */
  readonly name: string;
  /**
   * `key`: asked for every offered key, including "would this key do?" queries, and must come
   * first (it establishes the login). `login`: asked once, after the signature proved possession.
   */
  readonly stage: 'key' | 'login';
  decide(req: AuthRequest): Promise<AuthDecision>;
}

/** Who a connection proved to be; everything downstream of authentication works from this. */
export interface Identity {
  /** Canonical GitHub login. */
  login: string;
  /** Configured teams the login is an active member of, in configuration order. */
  teams: readonly string[];
  /** `SHA256:` fingerprint of the key the client proved it holds. */
  fingerprint: string;
  keyAlgo: string;
  /** Variables the auth hooks added for the session, already filtered by the environment rules. */
  hookEnv: Readonly<Record<string, string>>;
  /** True when GitHub was unavailable and a recently verified answer was used. */
  stale: boolean;
  /** The jump target the SSH user named (`alice@db1` → `db1`); absent for a local session. */
  target?: string | undefined;
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
