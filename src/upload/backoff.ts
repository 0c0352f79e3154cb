/**
 * How long to wait before trying again. Uploads retry forever (a recording is never given up
 * for a transient reason), so the delay grows exponentially to a cap, with jitter so many
 * uploaders coming back after an outage do not hit the server in lockstep.
 */

/** Backoff tuning; tests use small values. */
export interface BackoffOptions {
  /** First retry delay. */
  baseMs: number;
  /** Cap on any computed delay (server-given delays are capped separately). */
  maxMs: number;
  /** Delay between probes while the server refuses the install id (401). */
  unauthorizedMs: number;
}

/** Production defaults: 1 s doubling to 5 min; one 401 probe a minute. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 5 * 60_000, unauthorizedMs: 60_000 };

// A server could send a date years away; never sleep longer than this on its word.
const MAX_SERVER_DELAY_MS = 60 * 60_000;

/** Delay before retry number `attempt` (0-based): "equal jitter", between half and all of the capped exponential. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/**
 * The delay a response asks for: `retry-after` (seconds or an HTTP date) or
 * `x-ratelimit-reset` (epoch seconds), whichever is later; undefined when neither is usable.
 */
export function serverDelay(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const pick = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const candidates: number[] = [];
  const ra = pick('retry-after')?.trim();
  if (ra) {
    if (/^\d+(\.\d+)?$/.test(ra)) candidates.push(Number(ra) * 1000);
    else {
      const at = Date.parse(ra);
      if (!Number.isNaN(at)) candidates.push(at - now);
    }
  }
  const reset = pick('x-ratelimit-reset')?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset)) candidates.push(Number(reset) * 1000 - now);
  if (candidates.length === 0) return undefined;
  return Math.min(MAX_SERVER_DELAY_MS, Math.max(0, Math.ceil(Math.max(...candidates))));
}
