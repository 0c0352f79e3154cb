import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { validateAsciicast } from './asciicast-validate.js';
import { boundaryOf, parseMultipart, type FormPart } from './multipart-parse.js';
import { waitFor } from '../support/poll.js';

/**
 * A fake asciinema server on real node:http (127.0.0.1, port 0) that answers uploads the way
 * docs/external-systems.md §2–3 describes: both upload paths with their field names, Basic auth with
 * lowercase-UUID install ids, the non-empty filename rule, a size limit over the multipart part
 * bodies (413), asciicast validation (422), rate limiting (429), and switches for outages,
 * slowness, injected failures, accounts and old servers. Every accepted upload is kept for
 * assertions. Events: 'request' (an upload request arrived), 'upload' (StoredUpload).
 */

/** Construction options; all can be changed later through the switches. */
export interface FakeAsciinemaOptions {
  /** Limit over the sum of multipart part bodies (default 8,000,000, like the server). */
  maxBytes?: number;
  /** Behave like an old server: 404 on /api/v1/recordings. */
  legacyOnly?: boolean;
  /** Answer 2xx with a text/plain URL body and errors as plain text, like old servers. */
  textResponses?: boolean;
  /** Unknown install ids get 401 account_required instead of being registered on the fly. */
  requireAccounts?: boolean;
  /** Real rate limit: uploads per minute per client IP (recent servers: 10). Default off. */
  ratePerMinute?: number;
  /** 403 upload_limit_reached after this many uploads of one install id. Default off. */
  uploadLimit?: number;
}

/** One accepted upload, as the server stored it. */
export interface StoredUpload {
  id: number;
  url: string;
  /** `/api/v1/recordings` or `/api/asciicasts`. */
  path: string;
  /** Form field that carried the file (`file` or `asciicast`). */
  field: string;
  filename: string;
  /** Text fields as sent (title, description, visibility...). */
  fields: Record<string, string>;
  body: Buffer;
  sha256: string;
  installId: string;
  username: string;
  /** Visibility the server applied (default `unlisted` when none is sent). */
  visibility: string;
  title: string | undefined;
  /** The description the server keeps and shows (teamssh puts the upload's SSHSIG signature there); other unknown fields are ignored. */
  description: string | undefined;
  userAgent: string | undefined;
  accept: string | undefined;
}

interface Injected {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

const UUID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;
const PATHS: Record<string, string> = { '/api/v1/recordings': 'file', '/api/asciicasts': 'asciicast' };

/** The fake server. */
export class FakeAsciinema extends EventEmitter {
  /** Every accepted upload, in order. */
  readonly uploads: StoredUpload[] = [];
  /** Upload requests received (accepted or not). */
  requests = 0;
  /** Upload requests being handled right now. */
  inFlight = 0;
  /** Install ids the server knows (registered on the fly or by register()). */
  readonly known = new Set<string>();
  maxBytes: number;
  legacyOnly: boolean;
  textResponses: boolean;
  requireAccountsMode: boolean;
  ratePerMinute: number | undefined;
  uploadLimit: number | undefined;
  /** Delay before an upload is stored and answered; a client gone by then stores nothing. */
  slowMs = 0;
  private readonly injected: Injected[] = [];
  private readonly hits = new Map<string, number[]>();
  private readonly sockets = new Set<Socket>();
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private port = 0;
  private mode: 'up' | 'refuse' | 'destroy' = 'up';

  constructor(opts: FakeAsciinemaOptions = {}) {
    super();
    this.maxBytes = opts.maxBytes ?? 8_000_000;
    this.legacyOnly = opts.legacyOnly ?? false;
    this.textResponses = opts.textResponses ?? false;
    this.requireAccountsMode = opts.requireAccounts ?? false;
    this.ratePerMinute = opts.ratePerMinute;
    this.uploadLimit = opts.uploadLimit;
    this.server.on('connection', (s) => {
      if (this.mode === 'destroy') return s.destroy();
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Base URL, e.g. `http://127.0.0.1:40123` (valid after start()). */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on 127.0.0.1 (port 0 the first time) and returns the base URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.mode = 'up';
    return this.baseUrl;
  }

  /** Closes the server and every connection. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Goes down: 'refuse' closes the port (ECONNREFUSED), 'destroy' accepts and drops connections. */
  async down(mode: 'refuse' | 'destroy' = 'refuse'): Promise<void> {
    if (mode === 'refuse') await this.stop();
    else for (const s of this.sockets) s.destroy();
    this.mode = mode;
  }

  /** Comes back on the same port. */
  async up(): Promise<void> {
    if (this.mode === 'refuse') await this.start();
    this.mode = 'up';
  }

  /** The next `n` upload requests get `status` (JSON `{type, message}` unless `body` is given). */
  failNext(status: number, n = 1, body?: unknown, headers: Record<string, string> = {}): void {
    for (let i = 0; i < n; i++) this.injected.push({ status, body: body ?? { type: status >= 500 ? 'internal_error' : 'injected', message: `injected ${status}` }, headers });
  }

  /** The next `n` upload requests get 429 with `x-ratelimit-reset` `resetInSeconds` from now. */
  rateLimitNext(n = 1, resetInSeconds = 1): void {
    for (let i = 0; i < n; i++) {
      this.injected.push({ status: 429, body: 'Rate limit exceeded', headers: { 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000 + resetInSeconds)) } });
    }
  }

  /** Switches account enforcement: unknown ids get 401 account_required while on. */
  requireAccounts(on = true): void {
    this.requireAccountsMode = on;
  }

  /** Registers (approves) an install id, as linking it to an account does. */
  register(installId: string): void {
    this.known.add(installId);
  }

  /** Forgets an install id: with accounts required it is refused again. */
  revoke(installId: string): void {
    this.known.delete(installId);
  }

  /** Resolves when at least `n` uploads are stored; rejects after `timeoutMs`. */
  async waitForUploads(n: number, timeoutMs = 10_000): Promise<StoredUpload[]> {
    await waitFor(() => this.uploads.length >= n, { timeoutMs, intervalMs: 10, what: `${n} uploads`, detail: () => `got ${this.uploads.length}` });
    return this.uploads;
  }

  private send(res: http.ServerResponse, status: number, type: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
    if (this.textResponses || status === 429) {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(message);
    } else {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ type, message, ...extra }));
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const stored = /^\/a\/(\d+)\.cast$/.exec(path);
    if (req.method === 'GET' && stored) {
      const u = this.uploads.find((x) => x.id === Number(stored[1]));
      if (u) return void res.writeHead(200, { 'content-type': 'application/x-asciicast' }).end(u.body);
    }
    const field = PATHS[path];
    if (req.method !== 'POST' || !field || (this.legacyOnly && path === '/api/v1/recordings')) {
      req.resume();
      return this.send(res, 404, 'not_found', 'Not found');
    }
    this.requests++;
    this.inFlight++;
    this.emit('request', { path });
    try {
      await this.upload(req, res, path, field);
    } finally {
      this.inFlight--;
    }
  }

  private async upload(req: http.IncomingMessage, res: http.ServerResponse, path: string, field: string): Promise<void> {
    // Read at most a little over the limit; drain the rest so the client can read the 413.
    const cap = this.maxBytes + 256 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    try {
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > cap) overflow = true;
        else chunks.push(c as Buffer);
      }
    } catch {
      return; // the client went away mid-body: nothing to store
    }
    const ip = req.socket.remoteAddress ?? '?';
    if (this.ratePerMinute !== undefined) {
      const now = Date.now();
      const recent = (this.hits.get(ip) ?? []).filter((t) => now - t < 60_000);
      this.hits.set(ip, recent);
      if (recent.length >= this.ratePerMinute) {
        return this.send(res, 429, 'rate_limited', 'Rate limit exceeded', {}, { 'x-ratelimit-reset': String(Math.ceil((recent[0]! + 60_000) / 1000)) });
      }
      recent.push(now);
    }
    const inj = this.injected.shift();
    if (inj) {
      const text = typeof inj.body === 'string' && !this.textResponses;
      if (text) return void res.writeHead(inj.status, { 'content-type': 'text/plain', ...inj.headers }).end(inj.body);
      const b = inj.body as { type?: string; message?: string };
      return this.send(res, inj.status, b.type ?? 'error', b.message ?? String(inj.body), {}, inj.headers);
    }
    if (this.slowMs > 0) {
      await new Promise((r) => setTimeout(r, this.slowMs));
      if (req.socket.destroyed) return; // the uploader died or gave up: nothing was committed
    }
    if (overflow) return this.send(res, 413, 'content_too_large', 'Content too large');
    const boundary = boundaryOf(req.headers['content-type']);
    let parts: FormPart[];
    try {
      if (!boundary) throw new Error('not multipart');
      parts = parseMultipart(Buffer.concat(chunks), boundary);
    } catch (err) {
      return this.send(res, 400, 'bad_request', `Malformed request: ${(err as Error).message}`);
    }
    if (parts.reduce((n, p) => n + p.body.length, 0) > this.maxBytes) return this.send(res, 413, 'content_too_large', 'Content too large');

    const auth = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const cred = auth ? Buffer.from(auth[1]!, 'base64').toString('utf8') : '';
    const colon = cred.indexOf(':');
    const username = colon < 0 ? '' : cred.slice(0, colon);
    const installId = colon < 0 ? '' : cred.slice(colon + 1);
    if (!UUID.test(installId)) return this.send(res, 401, 'unauthenticated', 'Invalid or missing credentials');
    if (!this.known.has(installId)) {
      if (this.requireAccountsMode) return this.send(res, 401, 'account_required', 'This server requires an account: open the connect link to link this install id');
      this.known.add(installId);
    }

    const file = parts.find((p) => p.name === field && p.filename);
    if (!file) return this.send(res, 400, 'bad_request', `Missing "${field}" file part`);
    if (this.uploadLimit !== undefined && this.uploads.filter((u) => u.installId === installId).length >= this.uploadLimit) {
      return this.send(res, 403, 'upload_limit_reached', 'Upload limit reached');
    }
    const errors = validateAsciicast(file.body);
    if (errors.length > 0) return this.send(res, 422, 'validation_failed', 'Validation failed', { details: errors });

    const fields: Record<string, string> = {};
    for (const p of parts) if (p.filename === undefined) fields[p.name] = p.body.toString('utf8');
    const id = this.uploads.length + 1;
    const url = `${this.baseUrl}/a/${id}`;
    let headerTitle: string | undefined;
    try {
      const h = JSON.parse(file.body.toString('utf8').split('\n', 1)[0]!) as { title?: unknown };
      headerTitle = typeof h.title === 'string' ? h.title : undefined;
    } catch {
      /* validated above */
    }
    const u: StoredUpload = {
      id, url, path, field, filename: file.filename!, fields, body: Buffer.from(file.body),
      sha256: createHash('sha256').update(file.body).digest('hex'), installId, username,
      visibility: fields.visibility ?? 'unlisted', title: (fields.title || headerTitle)?.slice(0, 128), description: fields.description,
      userAgent: req.headers['user-agent'], accept: req.headers.accept,
    };
    this.uploads.push(u);
    this.emit('upload', u);
    if (this.textResponses) return void res.writeHead(201, { 'content-type': 'text/plain', location: url }).end(`${url}\n`);
    res.writeHead(201, { 'content-type': 'application/json', location: url }).end(
      JSON.stringify({ id, url, file_url: `${url}.cast`, title: u.title ?? null, description: u.description ?? null, visibility: u.visibility, message: `View the recording at:\n\n    ${url}\n` }),
    );
  }
}
