import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { serverBase } from '../config/upload-target.js';
import { serverDelay } from './backoff.js';
import { multipartBody } from './multipart.js';

/**
 * One upload attempt against an asciinema server (docs/external-systems.md §2), turned into a tagged
 * result the queue can act on. Retrying is not done here: a streamed body cannot be replayed,
 * so the caller reopens the file for every attempt.
 */

/** What one attempt came to. */
export type UploadResult =
  | { kind: 'ok'; url: string }
  | { kind: 'retry'; delayMs?: number; status?: number; reason: string }
  | { kind: 'unauthorized'; message: string }
  | { kind: 'too_large' }
  | { kind: 'permanent'; status: number; type?: string; message: string; details?: unknown };

/** The recording (or part) to send. */
export interface UploadFile {
  path: string;
  /** Sent as the multipart filename; servers require a non-empty `*.cast`. */
  filename: string;
  bytes: number;
  /** The file's bytes when the caller already read them (small recordings): sent as they are, not read again. */
  data?: Buffer | undefined;
}

/** Settings of one client; one client serves one uploader. */
export interface UploadClientOptions {
  serverUrl: string;
  installId: string;
  username: string;
  version: string;
  /** Bound on one whole request, sending included (undici's own defaults are 300 s). */
  requestTimeoutMs: number;
}

const MODERN = { path: '/api/v1/recordings', field: 'file' } as const;
const LEGACY = { path: '/api/asciicasts', field: 'asciicast' } as const;
const MAX_ERROR_BODY = 64 * 1024;

/** Uploads recordings to one server, remembering whether it speaks the modern or only the legacy path. */
export class UploadClient {
  private legacy: boolean | undefined;
  private readonly agent: Agent;
  private readonly auth: string;
  private readonly userAgent: string;

  constructor(private readonly opts: UploadClientOptions) {
    this.agent = new Agent({ connect: { timeout: Math.min(opts.requestTimeoutMs, 30_000) }, keepAliveTimeout: 10_000 });
    this.auth = `Basic ${Buffer.from(`${opts.username}:${opts.installId}`).toString('base64')}`;
    this.userAgent = `teamssh/${opts.version} (Node.js ${process.version}; ${process.platform} ${process.arch})`;
  }

  /** Which API path the server answered on, once known. */
  get api(): 'modern' | 'legacy' | 'unknown' {
    return this.legacy === undefined ? 'unknown' : this.legacy ? 'legacy' : 'modern';
  }

  /** Makes one attempt (two requests when the modern path answers 404). Throws only when `signal` aborts. */
  async upload(file: UploadFile, fields: Record<string, string>, signal: AbortSignal): Promise<UploadResult> {
    if (this.legacy !== true) {
      const r = await this.send(MODERN, file, fields, signal);
      if (!(r.kind === 'permanent' && r.status === 404)) {
        if (r.kind === 'ok' || r.kind === 'permanent' || r.kind === 'too_large' || r.kind === 'unauthorized') this.legacy = false;
        return r;
      }
      // An older server: every release has the legacy path, with its own field name.
      this.legacy = true;
    }
    const r = await this.send(LEGACY, file, fields, signal);
    if (r.kind === 'permanent' && r.status === 404) {
      // Neither path exists: the URL points at something that is not an asciinema server.
      // Every recording would fail the same way, so this must not move files to failed/.
      this.legacy = undefined;
      return { kind: 'retry', status: 404, reason: 'the server has no asciinema upload API (404 on both paths): check the server URL' };
    }
    return r;
  }

  /** Releases pooled connections. */
  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }

  private async send(api: typeof MODERN | typeof LEGACY, file: UploadFile, fields: Record<string, string>, stop: AbortSignal): Promise<UploadResult> {
    const mp = multipartBody(fields, { field: api.field, filename: file.filename, path: file.path, bytes: file.bytes, data: file.data });
    const timeout = AbortSignal.timeout(this.opts.requestTimeoutMs);
    const signal = AbortSignal.any([stop, timeout]);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${serverBase(this.opts.serverUrl)}${api.path}`, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          authorization: this.auth,
          accept: 'application/json',
          'user-agent': this.userAgent,
          'content-type': mp.contentType,
          'content-length': String(mp.length),
        },
        body: Buffer.isBuffer(mp.body) ? mp.body : Readable.from(mp.body, { objectMode: false }),
        signal,
        headersTimeout: this.opts.requestTimeoutMs,
        bodyTimeout: this.opts.requestTimeoutMs,
      });
    } catch (err) {
      if (stop.aborted) throw err;
      if (timeout.aborted) return { kind: 'retry', reason: 'timeout' };
      const e = err as NodeJS.ErrnoException;
      return { kind: 'retry', reason: e.code ? `${e.code}: ${e.message}` : String(err) };
    }
    try {
      return await this.classify(res);
    } catch (err) {
      if (stop.aborted) throw err;
      return { kind: 'retry', reason: `reading the answer failed: ${(err as Error).message}` };
    } finally {
      // Always leave the body consumed or destroyed, or the connection leaks.
      res.body.destroy();
    }
  }

  private async classify(res: Dispatcher.ResponseData): Promise<UploadResult> {
    const { statusCode: status, headers } = res;
    const text = await readLimited(res.body, MAX_ERROR_BODY);
    const contentType = String(headers['content-type'] ?? '');
    const json = contentType.includes('json') ? parseJson(text) : undefined;
    if (status >= 200 && status < 300) {
      const location = typeof headers.location === 'string' ? headers.location : undefined;
      const fromJson = json && typeof json.url === 'string' ? json.url : undefined;
      const fromText = !json && /^https?:\/\/\S+$/.test(text.trim()) ? text.trim() : undefined;
      return { kind: 'ok', url: fromJson ?? location ?? fromText ?? '' };
    }
    const message = json && typeof json.message === 'string' ? json.message : text.trim().slice(0, 1000) || `HTTP ${status}`;
    const type = json && typeof json.type === 'string' ? json.type : undefined;
    if (status === 401) return { kind: 'unauthorized', message: type ? `${type}: ${message}` : message };
    if (status === 413) return { kind: 'too_large' };
    if (status === 429 || status === 408 || status >= 500) {
      const delayMs = serverDelay(headers);
      return { kind: 'retry', status, reason: `HTTP ${status}${type ? ` ${type}` : ''}: ${message}`, ...(delayMs !== undefined ? { delayMs } : {}) };
    }
    return { kind: 'permanent', status, message, ...(type ? { type } : {}), ...(json && json.details !== undefined ? { details: json.details } : {}) };
  }
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    chunks.push(b);
    n += b.length;
    if (n >= limit) break;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
