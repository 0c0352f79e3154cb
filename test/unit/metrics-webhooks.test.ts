import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { registry } from '../../src/metrics/metrics.js';
import { webhookRoute } from '../../src/revocation/webhook-route.js';
import { HttpError } from '../../src/http/route.js';
import { silentLogger } from '../../src/log.js';
import { parseExposition } from '../support/prometheus.js';

const SECRET = 'webhook-secret-for-metrics';
const route = webhookRoute({ secret: SECRET, logger: silentLogger(), onRequest: () => undefined });

async function deliver(event: string, payload: unknown, opts: { id?: string; signature?: string } = {}): Promise<number> {
  const body = Buffer.from(JSON.stringify(payload));
  const signature = opts.signature ?? `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const headers = { 'x-github-event': event, 'x-github-delivery': opts.id ?? `d-${Math.random()}`, 'x-hub-signature-256': signature };
  try {
    return (await route.handle({ method: 'POST', path: route.path, query: new URLSearchParams(), headers, body, remoteAddress: '127.0.0.1' })).status;
  } catch (err) {
    if (err instanceof HttpError) return err.status;
    throw err;
  }
}

const count = async (event: string, result: string) => parseExposition(await registry.metrics()).value('teamssh_webhook_deliveries_total', { event, result });

test('webhook deliveries are counted by taken event and result; an unverified event name never becomes a label', async () => {
  const removed = { action: 'removed', member: { login: 'alice' }, team: { slug: 'ops' } };
  assert.equal(await deliver('membership', removed, { id: 'same' }), 202);
  assert.equal(await count('membership.removed', 'accepted'), 1);
  assert.equal(await deliver('membership', removed, { id: 'same' }), 202);
  assert.equal(await count('other', 'duplicate'), 1);
  assert.equal(await deliver('push', { ref: 'refs/heads/main' }), 202);
  assert.equal(await count('other', 'ignored'), 1);
  assert.equal(await deliver('made-up-event-name-attacker-chose', removed, { signature: 'sha256=00' }), 401);
  assert.equal(await count('unverified', 'refused'), 1);
  assert.doesNotMatch(await registry.metrics(), /made-up-event-name|push|alice/);
});
