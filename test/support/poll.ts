import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The one way tests wait for something that has no event to await: poll a condition until it
 * holds. Every wait names what it waits for, so a timeout says what did not happen (and,
 * with `detail`, what was seen instead) rather than only that time ran out.
 */

/** How long to wait and what to call the wait in the timeout message. */
export interface WaitOptions {
  /** What is awaited, in words: "the upload in flight". */
  what: string;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Time between checks (default 20 ms). */
  intervalMs?: number;
  /** Appended to the timeout message: what was there instead (output so far, counts). */
  detail?: () => string;
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Resolves with the first truthy value `check` returns (so a check can hand back what it
 * found); rejects after `timeoutMs` with a message naming `what`. `check` runs at once, then
 * every `intervalMs`; it may be async, and a check that throws ends the wait with that error.
 */
export async function waitFor<T>(check: () => T | Promise<T>, opts: WaitOptions): Promise<Truthy<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) {
      const detail = opts.detail ? `: ${opts.detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what}${detail}`);
    }
    await sleep(opts.intervalMs ?? 20);
  }
}
