import type { AuthContext, Connection } from 'ssh2';
import type { Logger } from '../log.js';
import { DENY_MESSAGES, type AuthDecision } from '../auth/types.js';
import { checkSignature, fingerprint, keyLine, type OfferedKey } from '../auth/verify.js';
import type { HookRequest, HookResult } from '../auth/hooks.js';

/** Who a connection proved to be; everything downstream of auth works from this. */
export interface Identity {
  /** Canonical GitHub login. */
  login: string;
  /** Configured teams the login is an active member of, in configuration order. */
  teams: string[];
  fingerprint: string;
  keyAlgo: string;
  /** `KEY=value` lines from auth hooks, for the session environment. */
  hookEnv: Record<string, string>;
  /** True when GitHub was unavailable and a recently verified answer was used. */
  stale: boolean;
}

/** What authentication needs from the rest of the server. */
export interface AuthDeps {
  /** The identity source: may key K log in as user U? */
  authorize(user: string, key: OfferedKey): Promise<AuthDecision>;
  runHooks(req: HookRequest): Promise<HookResult>;
  maxAuthTries: number;
  logger: Logger;
}

type PublicKeyContext = AuthContext & {
  method: 'publickey';
  key: OfferedKey;
  signature?: Buffer;
  blob?: Buffer;
  hashAlgo?: string;
};

/**
 * Drives ssh2's authentication events for one connection: public key only, a bounded
 * number of failed attempts, the signature checked here (ssh2 does not), then the identity
 * source and the hooks. Calls `onIdentity` once, just before accepting.
 */
export function handleAuthentication(client: Connection, remoteAddress: string, deps: AuthDeps, onIdentity: (id: Identity) => void): void {
  let failures = 0;
  const log = deps.logger;

  const refuse = (ctx: AuthContext, fields: Record<string, unknown>, why = 'authentication refused') => {
    failures += 1;
    log.warn({ event: 'auth_refused', user: ctx.username, remoteAddress, attempt: failures, ...fields }, why);
    if (failures >= deps.maxAuthTries) {
      log.warn({ event: 'auth_refused', user: ctx.username, remoteAddress, reason: 'too_many_attempts', attempts: failures }, 'too many authentication attempts; disconnecting');
      ctx.reject([], false);
      client.end();
      return;
    }
    ctx.reject(['publickey']);
  };

  client.on('authentication', (ctx) => {
    if (ctx.method !== 'publickey') {
      // "none" is how every client asks which methods exist; it is not a failed attempt.
      if (ctx.method !== 'none') failures += 1;
      ctx.reject(['publickey']);
      return;
    }
    const pk = ctx as PublicKeyContext;
    const fp = fingerprint(pk.key.data);
    void decide(pk, fp).catch((err: unknown) => {
      log.error({ event: 'auth_error', user: ctx.username, remoteAddress, fingerprint: fp, err }, 'authentication failed unexpectedly');
      refuse(ctx, { reason: 'internal_error', fingerprint: fp });
    });
  });

  async function decide(ctx: PublicKeyContext, fp: string): Promise<void> {
    const base = { fingerprint: fp, keyType: ctx.key.algo };
    if (ctx.signature && ctx.blob) {
      // Check possession before asking anyone anything: a forged request costs no GitHub call.
      const problem = checkSignature(ctx.key, ctx.blob, ctx.signature, ctx.hashAlgo);
      if (problem) return refuse(ctx, { reason: problem, ...base });
    }
    const decision = await deps.authorize(ctx.username, ctx.key);
    if (decision.kind === 'deny') return refuse(ctx, { reason: decision.reason, ...base }, `authentication refused: ${DENY_MESSAGES[decision.reason]}`);
    if (decision.kind === 'unavailable') return refuse(ctx, { reason: 'github_unavailable', detail: decision.reason, ...base }, 'authentication refused: GitHub is unavailable and this login has no recent verified answer');
    if (!ctx.signature) {
      // Only "would this key do?": answering yes logs nobody in.
      ctx.accept();
      return;
    }
    const hook = await deps.runHooks({ login: decision.login, keyLine: keyLine(ctx.key), fingerprint: fp, teams: decision.teams, remoteAddress });
    if (hook.kind === 'deny') return refuse(ctx, { reason: 'hook_denied', hook: hook.hook, detail: hook.message, ...base });
    if (hook.kind === 'unavailable') return refuse(ctx, { reason: 'hook_unavailable', hook: hook.hook, detail: hook.message, ...base });
    onIdentity({ login: decision.login, teams: decision.teams, fingerprint: fp, keyAlgo: ctx.key.algo, hookEnv: hook.env, stale: decision.stale });
    log.info({ event: 'auth_accepted', login: decision.login, user: ctx.username, remoteAddress, teams: decision.teams, stale: decision.stale, ...base }, 'authenticated');
    ctx.accept();
  }
}
