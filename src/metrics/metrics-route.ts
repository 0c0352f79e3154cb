import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError, type HttpRequest, type Route } from '../http/route.js';
import type { Registry } from 'prom-client';
import './live-gauges.js';

/** Where Prometheus scrapes. */
export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics`: `registry` (the role's: metrics.ts) in Prometheus text format. With a `token`
 * (TEAMSSH_METRICS_TOKEN) only `Authorization: Bearer <token>` gets it; the token is
 * compared in constant time and never logged.
 */
export function metricsRoute(opts: { token?: string | undefined; registry: Registry }): Route {
  const { registry } = opts;
  const want = opts.token ? digest(opts.token) : undefined;
  return {
    method: 'GET',
    path: METRICS_PATH,
    async handle(req: HttpRequest) {
      if (want && !timingSafeEqual(digest(bearer(req)), want)) {
        throw new HttpError(401, 'ERR_METRICS_UNAUTHORIZED', 'a bearer token is required for /metrics', { 'www-authenticate': 'Bearer realm="teamssh metrics"' });
      }
      return { status: 200, body: await registry.metrics(), headers: { 'content-type': registry.contentType } };
    },
  };
}

function bearer(req: HttpRequest): string {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1] ?? '';
}

// Hashing first gives both sides one length, so timingSafeEqual leaks not even the token's length.
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
