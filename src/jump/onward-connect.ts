import ssh2 from 'ssh2';
import type { Duplex } from 'node:stream';
import { fingerprint } from '../auth/verify.js';
import { TeamsshError, type ErrorCode } from '../errors.js';
import type { JumpKey } from './jump-key.js';
import type { Target } from './target-schema.js';

/** Why an onward connection failed; these strings are part of the audit-log contract. */
export type OnwardFailure = 'target_unreachable' | 'target_timeout' | 'target_host_key_mismatch' | 'target_key_refused';

const CODES: Record<OnwardFailure, ErrorCode> = {
  target_unreachable: 'ERR_JUMP_UNREACHABLE',
  target_timeout: 'ERR_JUMP_TIMEOUT',
  target_host_key_mismatch: 'ERR_JUMP_HOST_KEY',
  target_key_refused: 'ERR_JUMP_AUTH',
};

/** The one line the user sees for each failure; the log gets the cause. */
const USER_MESSAGES: Record<OnwardFailure, (t: Target) => string> = {
  target_unreachable: (t) => `target ${t.name} is unreachable`,
  target_timeout: (t) => `target ${t.name} did not answer in time`,
  target_host_key_mismatch: (t) => `target ${t.name} is unavailable`,
  target_key_refused: (t) => `target ${t.name} refused teamssh's key`,
};

/** An onward connection that could not be made: a stable reason, a line safe to show, the cause for the log. */
export class OnwardError extends TeamsshError {
  constructor(
    readonly reason: OnwardFailure,
    readonly target: Target,
    readonly detail: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(CODES[reason], USER_MESSAGES[reason](target), options);
  }
}

/** An authenticated connection to a target, ready for a session channel. */
export interface OnwardConnection {
  client: ssh2.Client;
  /** `SHA256:` fingerprint of the (pinned) host key the target presented. */
  hostKeyFingerprint: string;
}

/** The pinned keys of a target as raw public key blobs. */
function pinnedBlobs(target: Target): Buffer[] {
  return target.hostKeys.flatMap((line) => {
    const parsed = ssh2.utils.parseKey(line.trim());
    if (parsed instanceof Error) return [];
    return (Array.isArray(parsed) ? parsed : [parsed]).map((k) => k.getPublicSSH());
  });
}

/**
 * Connects to `target` as its user with the jump key and checks its host key against the
 * pinned ones before anything is sent (ssh2 asks the verifier before authenticating). Never
 * trusts on first use. Resolves once authenticated; rejects with an OnwardError within the
 * timeout whatever the target does, so the outer connection is never left waiting.
 */
export function connectTarget(target: Target, key: JumpKey, opts: { timeoutMs: number; sock?: Duplex }): Promise<OnwardConnection> {
  const pinned = pinnedBlobs(target);
  const client = new ssh2.Client();
  let presented: string | undefined;
  let mismatch = false;
  return new Promise<OnwardConnection>((resolve, reject) => {
    let settled = false;
    const fail = (reason: OnwardFailure, detail: Record<string, unknown>, cause?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      reject(new OnwardError(reason, target, { host: target.host, port: target.port, ...detail }, { cause }));
    };
    // ssh2's readyTimeout covers only the handshake; this covers the whole way to authenticated.
    const timer = setTimeout(() => {
      fail('target_timeout', { timeoutMs: opts.timeoutMs });
      client.destroy();
    }, opts.timeoutMs);
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ client, hostKeyFingerprint: presented! });
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (mismatch) {
        return fail('target_host_key_mismatch', { presentedFingerprint: presented, pinnedFingerprints: pinned.map(fingerprint) }, err);
      }
      if (err.level === 'client-authentication') return fail('target_key_refused', { user: target.user, error: err.message }, err);
      if (err.level === 'client-timeout') return fail('target_timeout', { timeoutMs: opts.timeoutMs }, err);
      fail('target_unreachable', { error: err.message }, err);
    });
    client.on('close', () => fail('target_unreachable', { error: 'connection closed before authentication' }));
    client.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      privateKey: key.pem,
      ...(opts.sock ? { sock: opts.sock } : {}),
      readyTimeout: opts.timeoutMs,
      keepaliveInterval: 15_000,
      // Only publickey with the jump key: no agent, no password, nothing the server's own environment offers.
      authHandler: ['publickey'],
      hostVerifier: (blob: Buffer) => {
        presented = fingerprint(blob);
        mismatch = !pinned.some((p) => p.equals(blob));
        return !mismatch;
      },
    });
  });
}
