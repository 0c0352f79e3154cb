import type { Logger } from '../log.js';
import type { Revoker } from './revoker.js';
import type { LiveSessionSource } from './types.js';

/** Settings of {@link Revalidator}. */
export interface RevalidatorOptions {
  /** Every live login is re-verified once per interval. */
  intervalMs: number;
  sessions: LiveSessionSource;
  revoker: Revoker;
  logger: Logger;
}

/**
 * Re-verifies every live session's identity once per interval: GitHub sends no webhook when
 * a key is deleted, and a webhook can be lost, so this is the path that always arrives. One
 * check per login (its sessions share it), spread evenly over the interval instead of a burst.
 */
export class Revalidator {
  readonly #o: RevalidatorOptions;
  #timer: NodeJS.Timeout | undefined;
  #state: 'idle' | 'running' | 'stopped' = 'idle';
  #round: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;

  constructor(opts: RevalidatorOptions) {
    this.#o = opts;
  }

  /** Starts the rounds; the first begins one interval from now (sessions were just verified at login). */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    this.#schedule(this.#o.intervalMs);
  }

  /** Stops after the check in progress; resolves when the current round has ended. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#round;
  }

  /** Runs one round now: every login with live sessions, spread over `spreadMs` (0 = at once). */
  async runRound(spreadMs = this.#o.intervalMs): Promise<void> {
    const logins = new Map<string, string>();
    for (const login of this.#o.sessions.logins()) logins.set(login.toLowerCase(), login);
    this.#o.revoker.prune(new Set(logins.keys()));
    const list = [...logins.values()];
    const gap = list.length > 0 ? spreadMs / list.length : 0;
    const checks: Promise<void>[] = [];
    const started = Date.now();
    for (const [i, login] of list.entries()) {
      // Each check has its own time in the round, counted from the round's start: sleeping `gap`
      // after each one let every timer's lateness add up (a busy event loop pushed the last
      // logins past the round's end, next to the next round's first ones; the bench counted
      // 3.02 requests per login in one interval instead of 3).
      const wait = started + i * gap - Date.now();
      if (i > 0 && wait > 0) await this.#sleep(wait);
      if (this.#stopped()) break;
      // Not awaited: a slow GitHub answer for one login must not push back the others.
      checks.push(this.#o.revoker.check(login, { trigger: 'revalidation' }));
    }
    await Promise.all(checks);
    this.#o.logger.debug({ event: 'revalidation_round', logins: list.length }, 'revalidation round done');
  }

  // A method, not an inline comparison: the state changes across the awaits of a round.
  #stopped(): boolean {
    return this.#state === 'stopped';
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      const started = Date.now();
      this.#round = this.runRound().finally(() => {
        // The next round starts one interval after this one started, or at once if it overran.
        if (this.#state === 'running') this.#schedule(Math.max(0, this.#o.intervalMs - (Date.now() - started)));
      });
    }, delayMs);
    // Revalidation alone must never keep the process alive.
    this.#timer.unref();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }
}
