import type { Identity } from '../auth/types.js';
import type { Logger } from '../log.js';
import type { JumpService, Onward, Reachable } from './jump-service.js';

/** How a connection's sessions are routed: locally, or onward to a target. */
export interface SessionRouting {
  jump?: JumpService | undefined;
  /** Set on the inner connection of a ProxyJump: every session goes to this target. */
  fixedTarget?: Reachable | undefined;
}

/**
 * Where one session goes: nowhere special (`{}`, a local session), onward to a target, or
 * refused with the one line the user sees. An unknown target and one the login's teams may
 * not reach get the same line, so the answer does not reveal which targets exist.
 */
export function routeSession(identity: Identity, routing: SessionRouting, log: Logger): { onward?: Onward; refused?: string } {
  if (routing.fixedTarget && routing.jump) return { onward: routing.jump.onward(routing.fixedTarget, log) };
  const name = identity.target;
  if (name === undefined) return {};
  const reach = routing.jump?.reachable(name, identity.teams);
  if (!reach || !routing.jump) {
    log.warn({ event: 'session_refused', login: identity.login, reason: 'no_target', target: name }, 'session refused: no such target for this login');
    return { refused: `no target ${name} for you` };
  }
  return { onward: routing.jump.onward(reach, log) };
}
