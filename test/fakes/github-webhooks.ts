import { createHmac, randomUUID } from 'node:crypto';

/** One delivery as sent, with teamssh's answer. */
export interface Delivery {
  id: string;
  event: string;
  action: string | undefined;
  body: string;
  /** The answer's status, or 0 when the request failed. */
  status: number;
  /** The answer's body text. */
  answer: string;
  sentAt: number;
}

/** Options of one manual delivery: tamper with what GitHub would send. */
export interface SendOptions {
  /** Reuse a delivery id (a replay). */
  id?: string;
  /** Sign with this secret instead of the hook's. */
  secret?: string;
  /** Send exactly this X-Hub-Signature-256 (null: send none). */
  signature?: string | null;
  /** Send this raw body instead of the JSON of the payload. */
  rawBody?: string;
}

/**
 * Sends webhooks the way GitHub does (docs/github-webhooks.md): a POST with
 * `content-type: application/json`, `User-Agent: GitHub-Hookshot/...`, `X-GitHub-Event`,
 * `X-GitHub-Delivery` (a GUID that a redelivery keeps), `X-GitHub-Hook-ID` and
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. GitHub waits 10 s for an
 * answer and never redelivers on its own; `redeliver` is the "Redeliver" button.
 */
export class WebhookSender {
  readonly deliveries: Delivery[] = [];
  readonly #pending = new Set<Promise<Delivery>>();
  readonly #hookId = 400_000 + Math.floor(Math.random() * 1000);

  constructor(
    readonly url: string,
    readonly secret: string,
  ) {}

  /** Delivers `event` with `payload`; resolves with the delivery once teamssh answered. */
  send(event: string, payload: Record<string, unknown>, opts: SendOptions = {}): Promise<Delivery> {
    const body = opts.rawBody ?? JSON.stringify(payload);
    const id = opts.id ?? randomUUID();
    const signature = opts.signature === undefined ? sign(opts.secret ?? this.secret, body) : opts.signature;
    const action = typeof payload.action === 'string' ? payload.action : undefined;
    const p = this.#post(id, event, action, body, signature);
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
    return p;
  }

  /** Sends a past delivery again, byte for byte, with the same id and signature. */
  redeliver(id: string): Promise<Delivery> {
    const d = this.deliveries.find((x) => x.id === id);
    if (!d) throw new Error(`no delivery ${id}`);
    return this.#post(d.id, d.event, d.action, d.body, sign(this.secret, d.body));
  }

  /** Resolves when every delivery sent so far has been answered. */
  async settled(): Promise<Delivery[]> {
    return Promise.all([...this.#pending]);
  }

  async #post(id: string, event: string, action: string | undefined, body: string, signature: string | null): Promise<Delivery> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/fake',
      'x-github-event': event,
      'x-github-delivery': id,
      'x-github-hook-id': String(this.#hookId),
      'x-github-hook-installation-target-type': 'organization',
    };
    if (signature !== null) headers['x-hub-signature-256'] = signature;
    const delivery: Delivery = { id, event, action, body, status: 0, answer: '', sentAt: Date.now() };
    try {
      const res = await fetch(this.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
      delivery.status = res.status;
      delivery.answer = await res.text();
    } catch (err) {
      delivery.answer = String(err);
    }
    this.deliveries.push(delivery);
    return delivery;
  }
}

/** `sha256=` + hex HMAC-SHA256 of the raw body, as GitHub signs a delivery. */
export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}
