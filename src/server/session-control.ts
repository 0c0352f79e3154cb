import type { Logger } from '../log.js';
import type { ControlTarget } from '../control/control-server.js';
import type { LiveSession } from '../session/live-session.js';
import type { SessionRegistry } from '../session/registry.js';

/** The control socket's view of the live sessions: list them, and end them as an operator. */
export function sessionControl(sessions: SessionRegistry<LiveSession>, log: Logger): ControlTarget {
  return {
    list: () =>
      sessions.all().map((s) => ({
        id: s.id,
        login: s.login,
        team: s.team ?? null,
        fingerprint: s.fingerprint,
        remoteAddress: s.remoteAddress,
        kind: s.kind,
        command: s.command ?? null,
        target: s.target ?? null,
        state: s.state,
        startedAt: s.startedAt.toISOString(),
        idleSeconds: s.idleSeconds,
      })),
    kill(select, operator) {
      const chosen = select.sessionId ? [sessions.byId(select.sessionId)].filter((s) => s !== undefined) : sessions.byLogin(select.login ?? '');
      const detail = { killedByUid: operator.uid, ...(operator.sudoUid !== undefined ? { killedBySudoUid: operator.sudoUid } : {}) };
      for (const s of chosen) {
        log.warn({ event: 'session_killed', sessionId: s.id, login: s.login, operatorUid: operator.uid, sudoUid: operator.sudoUid, sudoUser: operator.sudoUser }, 'session killed by an operator');
        s.end('killed', 'session ended by an operator', detail);
      }
      return chosen.map((s) => s.id);
    },
  };
}
