import { Webhooks, type EmitterWebhookEvent, type EmitterWebhookEventName } from '@octokit/webhooks';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../log.js';
import { HttpError, type HttpRequest, type HttpResponse, type Route } from '../http/route.js';
import type { RecheckRequest } from './types.js';
import { metrics } from '../metrics/metrics.js';

/** Where GitHub delivers the org webhook. */
export const WEBHOOK_PATH = '/webhooks/github';

/** The events (`event.action`) that can change who may be logged in; everything else is acknowledged and ignored. */
export const TAKEN_EVENTS = [
  'membership.added',
  'membership.removed',
  'organization.member_added',
  'organization.member_removed',
  'team.deleted',
  'org_block.blocked',
] as const;

// Label values of teamssh_webhook_deliveries_total for deliveries that name no taken event.
const OTHER = 'other';
const UNVERIFIED = 'unverified';

/** Settings of {@link webhookRoute}. */
export interface WebhookRouteOptions {
  secret: string;
  /** Receives each verified, first-seen delivery that concerns access; must not throw. */
  onRequest: (req: RecheckRequest) => void;
  logger: Logger;
  /** Delivery ids remembered for dedupe (default 10,000). */
  maxDeliveries?: number;
}

/**
 * `POST /webhooks/github`: verifies `X-Hub-Signature-256` over the raw body before anything
 * is parsed, drops replayed delivery ids, turns the events that matter into re-check requests
 * and answers 202 at once (GitHub wants an answer within 10 s; the checks run afterwards).
 */
export function webhookRoute(opts: WebhookRouteOptions): Route {
  const log = opts.logger;
  const webhooks = new Webhooks({ secret: opts.secret });
  // Bounded: a redelivery keeps its id, and GitHub redelivers only on request, so the most
  // recent ids are the ones that can come back.
  const seen = new LRUCache<string, true>({ max: opts.maxDeliveries ?? 10_000 });
  const handle = async (req: HttpRequest): Promise<HttpResponse> => {
    const deliveryId = header(req, 'x-github-delivery');
    const event = header(req, 'x-github-event');
    const signature = header(req, 'x-hub-signature-256');
    const raw = req.body.toString('utf8');
    const refused = (why: string): HttpError => {
      log.warn({ event: 'webhook_refused', code: 'ERR_WEBHOOK_SIGNATURE', reason: why, deliveryId, webhookEvent: event, remoteAddress: req.remoteAddress }, 'webhook refused: signature check failed');
      // The event header is not trusted before the signature passed: it must not become a label.
      metrics.webhookDeliveries.inc({ event: UNVERIFIED, result: 'refused' });
      return new HttpError(401, 'ERR_WEBHOOK_SIGNATURE', 'missing or wrong X-Hub-Signature-256');
    };
    if (!signature) throw refused('missing_signature');
    // verify() compares in constant time; it throws on an empty body, which is no valid delivery.
    const valid = raw.length > 0 && (await webhooks.verify(raw, signature).catch(() => false));
    if (!valid) throw refused('bad_signature');
    // Only now is the body trusted enough to read; dedupe after the check, or a forged
    // delivery could claim a genuine delivery's id in advance and have it ignored.
    if (!deliveryId || !event) throw badRequest(400, 'ERR_HTTP_BAD_REQUEST', 'X-GitHub-Delivery and X-GitHub-Event are required');
    if (seen.has(deliveryId)) {
      log.info({ event: 'webhook_duplicate', deliveryId, webhookEvent: event }, 'webhook delivery seen before; ignored');
      return accepted('duplicate', OTHER);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(raw);
    } catch {
      throw badRequest(400, 'ERR_HTTP_BAD_REQUEST', 'body is not JSON');
    }
    seen.set(deliveryId, true);
    const action = typeof payload === 'object' && payload !== null ? (payload as { action?: unknown }).action : undefined;
    const name = typeof action === 'string' ? `${event}.${action}` : event;
    if (!(TAKEN_EVENTS as readonly string[]).includes(name)) {
      log.debug({ event: 'webhook_ignored', deliveryId, webhookEvent: name }, 'webhook event not about access; ignored');
      return accepted('ignored', OTHER);
    }
    const request = recheckRequestOf(name, deliveryId, payload);
    log.info({ event: 'webhook_received', deliveryId, webhookEvent: name, login: request?.kind === 'login' ? request.login : undefined, team: request?.kind === 'team' ? request.team : undefined, remoteAddress: req.remoteAddress }, 'webhook received');
    if (!request) return accepted('ignored', name);
    opts.onRequest(request);
    return accepted('accepted', name);
  };
  return { method: 'POST', path: WEBHOOK_PATH, handle };
}

type Payload<E extends EmitterWebhookEventName> = EmitterWebhookEvent<E>['payload'];

/** The re-check a taken event asks for (who it names), or undefined when it names nobody. */
export function recheckRequestOf(name: string, deliveryId: string, payload: unknown): RecheckRequest | undefined {
  const forLogin = (who: { login?: string } | null | undefined, blocked = false): RecheckRequest | undefined =>
    typeof who?.login === 'string' && who.login ? { kind: 'login', login: who.login, event: name, deliveryId, blocked } : undefined;
  switch (name) {
    case 'membership.added':
    case 'membership.removed':
      return forLogin((payload as Payload<'membership.added'>).member);
    case 'organization.member_added':
    case 'organization.member_removed':
      return forLogin((payload as Payload<'organization.member_added'>).membership?.user);
    case 'org_block.blocked':
      return forLogin((payload as Payload<'org_block.blocked'>).blocked_user, true);
    case 'team.deleted': {
      // A deleted team's payload may be a stub; the slug is all we need.
      const slug = (payload as Payload<'team.deleted'>).team?.slug as unknown;
      return typeof slug === 'string' && slug ? { kind: 'team', team: slug, event: name, deliveryId } : undefined;
    }
    default:
      return undefined;
  }
}

function header(req: HttpRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** A 202 answer, counted under `event` (a taken event's name, else `other`: labels stay a closed set). */
function accepted(status: 'accepted' | 'duplicate' | 'ignored', event: string): HttpResponse {
  metrics.webhookDeliveries.inc({ event, result: status });
  return { status: 202, body: { status } };
}

function badRequest(...args: ConstructorParameters<typeof HttpError>): HttpError {
  metrics.webhookDeliveries.inc({ event: OTHER, result: 'bad_request' });
  return new HttpError(...args);
}
