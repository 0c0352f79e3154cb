import type { AuthContext, Connection } from 'ssh2';
import type { Logger } from '../log.js';
import { DENY_MESSAGES, type AuthDecision, type DenyReason, type Identity, type IdentitySource, type OfferedKey, type RefusalReason } from '../auth/types.js';
import { checkSignature, fingerprint } from '../auth/verify.js';
import { metrics } from '../metrics/metrics.js';
import { splitRoute } from '../jump/route.js';

/** What authentication needs from the rest of the server. */
export interface AuthDeps {
  /** Asked in order; the first must be a `key` source (it establishes the login). */
  sources: readonly IdentitySource[];
  maxAuthTries: number;
  logger: Logger;
  /**
   * The inner connection of a ProxyJump: its SSH user is the target's account (`deploy@db1`),
   * so the sources are asked about this login (the outer connection's) instead, and only it may authenticate.
   */
  requireLogin?: string | undefined;
}

type PublicKeyContext = AuthContext & {
  method: 'publickey';
  key: OfferedKey;
  signature?: Buffer;
  blob?: Buffer;
  hashAlgo?: string;
};

/** Rejects `authenticate` when the connection closes before it authenticated. */
export class NotAuthenticated extends Error {
  constructor() {
    super('connection closed before it authenticated');
    this.name = 'NotAuthenticated';
  }
}

const logText = (d: Exclude<AuthDecision, { kind: 'allow' }>): string =>
  d.kind === 'unavailable'
    ? `authentication refused: ${d.reason === 'github_unavailable' ? 'GitHub is unavailable and this login has no recent verified answer' : 'an auth hook is unavailable'}`
    : d.reason in DENY_MESSAGES
      ? `authentication refused: ${DENY_MESSAGES[d.reason as DenyReason]}`
      : 'authentication refused by an auth hook';

/**
 * Drives ssh2's authentication events for one connection: public key only, a bounded
 * number of failed attempts, the signature checked here (ssh2 does not), then every identity
 * source in order. Resolves with the Identity once the connection is ready; rejects with
 * NotAuthenticated if it closes first.
 */
export function authenticate(client: Connection, remoteAddress: string, deps: AuthDeps): Promise<Identity> {
  let failures = 0;
  let accepted: Identity | undefined;
  const log = deps.logger;

  const refuse = (ctx: AuthContext, reason: RefusalReason, fields: Record<string, unknown>, why = 'authentication refused') => {
    failures += 1;
    log.warn({ event: 'auth_refused', user: ctx.username, remoteAddress, attempt: failures, reason, ...fields }, why);
    metrics.authAttempts.inc({ result: reason });
    if (failures >= deps.maxAuthTries) {
      log.warn({ event: 'auth_refused', user: ctx.username, remoteAddress, reason: 'too_many_attempts', attempts: failures }, 'too many authentication attempts; disconnecting');
      metrics.authAttempts.inc({ result: 'too_many_attempts' });
      ctx.reject([], false);
      client.end();
      return;
    }
    ctx.reject(['publickey']);
  };

  async function attempt(ctx: PublicKeyContext, fp: string): Promise<void> {
    const base = { fingerprint: fp, keyType: ctx.key.algo };
    const signed = Boolean(ctx.signature && ctx.blob);
    if (signed) {
      // Check possession before asking anyone anything: a forged request costs no GitHub call.
      const problem = checkSignature(ctx.key, ctx.blob!, ctx.signature!, ctx.hashAlgo);
      if (problem) return refuse(ctx, problem, base);
    }
    let granted: Extract<AuthDecision, { kind: 'allow' }> | undefined;
    const env: Record<string, string> = {};
    // `alice@db1` authenticates alice; the target is only a routing choice for her sessions.
    const route = deps.requireLogin ? { login: deps.requireLogin, target: undefined } : splitRoute(ctx.username);
    for (const source of deps.sources) {
      // "Would this key do?" queries only ask the key sources; answering yes logs nobody in.
      if (source.stage === 'login' && !signed) continue;
      const d = await source.decide({ user: route.login, key: ctx.key, fingerprint: fp, remoteAddress, granted });
      const who = source.stage === 'login' ? { hook: source.name } : {};
      if (d.kind !== 'allow') return refuse(ctx, d.reason, { ...base, ...who, ...(d.detail ? { detail: d.detail } : {}) }, logText(d));
      granted = { ...d, stale: (granted?.stale ?? false) || d.stale };
      Object.assign(env, d.env);
    }
    if (!granted) return refuse(ctx, 'internal_error', { ...base, detail: 'no identity source configured' });
    if (!signed) {
      ctx.accept();
      return;
    }
    accepted = { login: granted.login, teams: granted.teams, fingerprint: fp, keyAlgo: ctx.key.algo, hookEnv: env, stale: granted.stale, ...(route.target ? { target: route.target } : {}) };
    metrics.authAttempts.inc({ result: 'accepted' });
    log.info({ event: 'auth_accepted', login: granted.login, user: ctx.username, remoteAddress, teams: granted.teams, stale: granted.stale, ...base }, 'authenticated');
    ctx.accept();
  }

  return new Promise<Identity>((resolve, reject) => {
    client.once('ready', () => (accepted ? resolve(accepted) : reject(new NotAuthenticated())));
    client.once('close', () => reject(new NotAuthenticated()));
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') {
        // "none" is how every client asks which methods exist; it is not a failed attempt.
        if (ctx.method !== 'none') failures += 1;
        ctx.reject(['publickey']);
        return;
      }
      const pk = ctx as PublicKeyContext;
      const fp = fingerprint(pk.key.data);
      void attempt(pk, fp).catch((err: unknown) => {
        log.error({ event: 'auth_error', user: ctx.username, remoteAddress, fingerprint: fp, err }, 'authentication failed unexpectedly');
        refuse(ctx, 'internal_error', { fingerprint: fp });
      });
    });
  });
}
