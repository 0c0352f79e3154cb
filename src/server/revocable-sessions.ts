import type { LiveSession } from '../session/live-session.js';
import type { SessionRegistry } from '../session/registry.js';
import type { LiveSessionSource, RevocableSession } from '../revocation/types.js';

/** The session registry as revocation sees it: sessions by login, each able to end itself as revoked. */
export function revocableSessions(registry: SessionRegistry<LiveSession>): LiveSessionSource {
  const view = (s: LiveSession): RevocableSession => ({
    id: s.id,
    login: s.login,
    fingerprint: s.fingerprint,
    // The grant is chosen before the session's first await, so a live session always has its team.
    team: s.team ?? s.teams[0] ?? '',
    teams: s.teams,
    revoke: (r) => s.end('revoked', r.message, { revocationReason: r.reason, revocationTrigger: r.trigger, ...(r.deliveryId ? { deliveryId: r.deliveryId } : {}) }),
  });
  return { byLogin: (login) => registry.byLogin(login).map(view), logins: () => registry.logins() };
}
