import type { Octokit } from '@octokit/rest';

/** How many requests of one client may be in flight at once unless `maxConcurrentRequests` says otherwise. */
export const DEFAULT_REQUEST_SLOTS = 10;

// Minting an App installation token is what a waiting request may be waiting for; it must
// never queue behind those requests (plugin-throttling kept it in a limiter of its own for
// the same reason). teamssh's auth strategy mints through the raw request already; this is
// the second guard.
const MINT = /^\/app\/installations\/[^/]+\/access_tokens$/;

interface SlotOptions {
  method?: string;
  url: string;
  baseUrl?: string;
  request?: { signal?: AbortSignal | null };
}

/**
 * Octokit plugin: at most `maxConcurrentRequests` (default 10, what Octokit's throttling
 * allowed) GitHub requests of one client in flight; the rest wait in arrival order.
 *
 * Why not @octokit/plugin-throttling: with `onRateLimit` answering "never wait", all it still
 * did was this limit, through two Bottleneck limiters that move each request through a chain of
 * `setTimeout(0)` steps one request at a time. When 25 logins were removed at once, that
 * chain, not GitHub, set the pace: the 50 re-check requests reached the fake GitHub one or
 * two at a time over ~700 ms while teamssh's event loop was 74% idle (bench/README.md,
 * "Revocation"). Here a free slot is taken synchronously and a finished request hands its
 * slot straight to the next waiter.
 */
export function requestSlots(octokit: Pick<Octokit, 'hook'>, options: { maxConcurrentRequests?: number; [option: string]: unknown }): Record<string, never> {
  const limit = Math.max(1, options.maxConcurrentRequests ?? DEFAULT_REQUEST_SLOTS);
  const waiting: Array<() => void> = [];
  let inFlight = 0;

  const release = (): void => {
    const next = waiting.shift();
    // The slot passes to the next waiter as it is: the count never dips below the limit in between.
    if (next) next();
    else inFlight -= 1;
  };

  /** Resolves once a slot is held; rejects (holding none) when the request's signal aborts first. */
  const acquire = (signal: AbortSignal | null | undefined): Promise<void> | undefined => {
    if (inFlight < limit) {
      inFlight += 1;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = waiting.indexOf(granted);
        if (i >= 0) waiting.splice(i, 1);
        reject(signal?.reason);
      };
      function granted(): void {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }
      if (signal?.aborted) return reject(signal.reason);
      // A lookup past its deadline gives up its place instead of taking a slot later for nothing.
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.push(granted);
    });
  };

  octokit.hook.wrap('request', async (request, opts) => {
    const o = opts as SlotOptions;
    if (o.method === 'POST' && MINT.test(pathOf(o.url, o.baseUrl))) return request(opts);
    const wait = acquire(o.request?.signal);
    if (wait) await wait;
    try {
      return await request(opts);
    } finally {
      release();
    }
  });
  return {};
}

function pathOf(url: string, baseUrl = ''): string {
  const rest = baseUrl && url.startsWith(baseUrl) ? url.slice(baseUrl.length) : url;
  return /^https?:\/\//.test(rest) ? new URL(rest).pathname.replace(/^\/api\/v3(?=\/)/, '') : rest.split('?')[0]!;
}
