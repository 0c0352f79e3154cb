import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RefusalReason } from '../auth/types.js';

/**
 * Every Prometheus metric teamssh exports, in one registry of its own (never prom-client's
 * global one, so a library that registers there cannot add to or clash with ours). One set per
 * process: the process is what Prometheus scrapes, and the code that counts an event (an auth
 * refusal, an upload) needs no wiring to reach it. Gauges of live state are not kept here but
 * asked of their owners at scrape time (live-gauges.ts).
 *
 * Labels are bounded, closed sets (reasons, kinds, route templates, status codes): never a
 * login, key or address, which would be personal data and unbounded cardinality.
 *
 * Two registries, one per role, share the metric objects: `registry` (`teamssh serve`: all of
 * them) and `uploaderRegistry` (`teamssh upload`: uploads, the backlog, the pause and the
 * process metrics). A split uploader exporting the server's metrics at 0 would say "no logins,
 * no sessions" on a host where the server does have them, and a dashboard summing over
 * instances could not tell that zero from a real one; an absent series says "not here".
 */

/** Every `auth_refused.reason`, so each series exists (at 0) from the start and alerts see no gap. */
export const AUTH_RESULTS = [
  'accepted',
  'not_member',
  'pending_invitation',
  'no_such_user',
  'key_not_on_github',
  'unsupported_key_type',
  'bad_signature',
  'sha1_signature',
  'github_unavailable',
  'hook_denied',
  'hook_unavailable',
  'internal_error',
  'too_many_attempts',
] as const satisfies readonly ('accepted' | RefusalReason)[];

// Compile-time check that AUTH_RESULTS names every refusal reason: a new reason fails the build here.
type MissingReason = Exclude<RefusalReason, (typeof AUTH_RESULTS)[number]>;
const everyReason: [MissingReason] extends [never] ? true : MissingReason = true;
void everyReason;

/** Results of `teamssh_uploads_total`. */
export const UPLOAD_RESULTS = ['uploaded', 'rejected', 'retry'] as const;

/** Results of `teamssh_github_cache_total`. */
export const CACHE_RESULTS = ['hit', 'miss', 'not_modified', 'stale'] as const;

/** What `/metrics` of `teamssh serve` serves: every metric. */
export const registry = new Registry();

/** What `/metrics` of `teamssh upload` serves: the metrics that mean something in the uploader alone. */
export const uploaderRegistry = new Registry();

/** For the metrics both roles export. */
export const BOTH_ROLES = [registry, uploaderRegistry];

// Logins take seconds, sessions minutes to hours: buckets up to 12 h (the default max duration).
const SESSION_BUCKETS = [1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200];
const GITHUB_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const UPLOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The counters and histograms the code moves as things happen. */
export const metrics = {
  authAttempts: new Counter({ name: 'teamssh_auth_attempts_total', help: 'Public-key authentication attempts by result: accepted, or the auth_refused reason of the audit log.', labelNames: ['result'] as const, registers: [registry] }),
  sessionsTotal: new Counter({ name: 'teamssh_sessions_total', help: 'Sessions started (session_start), by kind (shell, exec).', labelNames: ['kind'] as const, registers: [registry] }),
  sessionDuration: new Histogram({ name: 'teamssh_session_duration_seconds', help: 'Duration of ended sessions in seconds (session_end durationMs).', buckets: SESSION_BUCKETS, registers: [registry] }),
  sessionsEnded: new Counter({ name: 'teamssh_sessions_ended_total', help: 'Sessions ended, by the endReason of session_end.', labelNames: ['reason'] as const, registers: [registry] }),
  githubRequests: new Counter({ name: 'teamssh_github_requests_total', help: 'GitHub API requests (each attempt) by route template and HTTP status; status "error" when no answer came (network, timeout).', labelNames: ['route', 'status'] as const, registers: [registry] }),
  githubDuration: new Histogram({ name: 'teamssh_github_request_duration_seconds', help: 'Duration of GitHub API requests in seconds, answered or not.', buckets: GITHUB_BUCKETS, registers: [registry] }),
  githubCache: new Counter({ name: 'teamssh_github_cache_total', help: 'GitHub directory lookups by result: hit (fresh cache), miss (asked GitHub), not_modified (GitHub confirmed the cache with 304), stale (GitHub unavailable, a stale verified answer served).', labelNames: ['result'] as const, registers: [registry] }),
  githubRateLimitRemaining: new Gauge({ name: 'teamssh_github_rate_limit_remaining', help: 'x-ratelimit-remaining of the latest GitHub answer that carried it.', registers: [registry] }),
  uploads: new Counter({ name: 'teamssh_uploads_total', help: 'Recording uploads by result: uploaded, rejected (refused for good, kept in failed/), retry (an attempt that failed and will be retried).', labelNames: ['result'] as const, registers: BOTH_ROLES }),
  uploadDuration: new Histogram({ name: 'teamssh_upload_duration_seconds', help: 'Time to ship one recording in seconds, retries included, for recordings uploaded.', buckets: UPLOAD_BUCKETS, registers: BOTH_ROLES }),
  webhookDeliveries: new Counter({ name: 'teamssh_webhook_deliveries_total', help: 'GitHub webhook deliveries by event (event.action of a taken event, "other", or "unverified" before the signature passed) and result.', labelNames: ['event', 'result'] as const, registers: [registry] }),
  sessionsRevoked: new Counter({ name: 'teamssh_sessions_revoked_total', help: 'Sessions ended by revocation, by the reason of session_revoked.', labelNames: ['reason'] as const, registers: [registry] }),
};

for (const result of AUTH_RESULTS) metrics.authAttempts.inc({ result }, 0);
for (const result of CACHE_RESULTS) metrics.githubCache.inc({ result }, 0);
for (const result of UPLOAD_RESULTS) metrics.uploads.inc({ result }, 0);
for (const kind of ['shell', 'exec']) metrics.sessionsTotal.inc({ kind }, 0);

// Process metrics (CPU, memory, event loop lag, GC) under the same prefix as ours: collected
// once (each collection starts its own event-loop and GC observers) and served by both roles.
const processMetrics = new Registry();
collectDefaultMetrics({ register: processMetrics, prefix: 'teamssh_' });
for (const { name } of processMetrics.getMetricsAsArray()) for (const r of BOTH_ROLES) r.registerMetric(processMetrics.getSingleMetric(name)!);

// The uploader's own metrics (not the backlog, `teamssh_recordings_pending`, which describes the
// directory whoever uploads it).
const UPLOAD_METRICS = ['teamssh_uploads_total', 'teamssh_upload_duration_seconds', 'teamssh_upload_paused'];

/**
 * Shows the uploader's metrics in `serve`'s registry only while `serve` runs an uploader
 * (src/upload/live-uploader.ts; a reload may turn it on or off): a `serve --no-upload` beside a
 * split `teamssh upload` would otherwise export them at 0, and a dashboard could not tell that
 * 0 from the uploader's real count. The metric objects stay the same, so counts carry over.
 */
export function showUploadMetrics(on: boolean): void {
  for (const name of UPLOAD_METRICS) {
    const metric = uploaderRegistry.getSingleMetric(name);
    const shown = registry.getSingleMetric(name) !== undefined;
    if (on && metric && !shown) registry.registerMetric(metric);
    if (!on && shown) registry.removeSingleMetric(name);
  }
}

