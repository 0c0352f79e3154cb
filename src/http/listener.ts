import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TeamsshError } from '../errors.js';
import type { Logger } from '../log.js';
import { errorBody, HttpError, matchRoute, type HttpResponse, type Route } from './route.js';

/** Request bodies above this are answered 413: the GitHub events teamssh takes are a few kB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A running HTTP listener. */
export interface HttpListener {
  /** Where it listens (the real port when asked for port 0). */
  address: { host: string; port: number };
  /** Stops accepting, lets requests in flight finish for up to 2 s, then drops what is left. */
  close(): Promise<void>;
}

/**
 * Starts the one HTTP listener teamssh has (webhooks now, operator endpoints later) on
 * `listen`. Every answer is JSON; errors carry a stable code and never a stack trace.
 */
export async function startHttpListener(listen: { host: string; port: number }, routes: readonly Route[], logger: Logger): Promise<HttpListener> {
  const log = logger;
  const server = createServer({ requestTimeout: 15_000, headersTimeout: 10_000 }, (req, res) => {
    void serve(req, res, routes, log);
  });
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (err, socket) => {
    log.debug({ event: 'http_client_error', err: err.message }, 'malformed HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw new TeamsshError('ERR_HTTP_LISTEN', `cannot listen for HTTP on ${listen.host}:${listen.port}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  });
  server.on('error', (err) => log.error({ err }, 'HTTP listener error'));
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  log.info({ event: 'http_listening', host: address.host, port: address.port, routes: routes.map((r) => `${r.method} ${r.path}`) }, `HTTP listening on ${address.host}:${address.port}`);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), 2_000);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    }));
  return { address, close };
}

/** Answers one request: route, read the capped body, run the route, send JSON. */
async function serve(req: IncomingMessage, res: ServerResponse, routes: readonly Route[], log: Logger): Promise<void> {
  const started = Date.now();
  const url = new URL(req.url ?? '/', 'http://localhost');
  const remoteAddress = req.socket.remoteAddress ?? '';
  let answer: HttpResponse;
  try {
    const route = matchRoute(routes, req.method ?? 'GET', url.pathname);
    if (route instanceof HttpError) throw route;
    const body = await readBody(req, MAX_BODY_BYTES);
    answer = await route.handle({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, remoteAddress });
  } catch (err) {
    if (err instanceof HttpError) {
      answer = { status: err.status, body: errorBody(err.code, err.message), headers: err.headers };
    } else {
      // The cause goes to the log only: a client never sees a stack or an internal message.
      log.error({ event: 'http_error', code: 'ERR_HTTP_INTERNAL', method: req.method, path: url.pathname, err }, 'HTTP route failed');
      answer = { status: 500, body: errorBody('ERR_HTTP_INTERNAL', 'internal error') };
    }
  }
  send(req, res, answer);
  log.debug({ event: 'http_request', method: req.method, path: url.pathname, status: answer.status, remoteAddress, durationMs: Date.now() - started }, 'HTTP request');
}

function send(req: IncomingMessage, res: ServerResponse, answer: HttpResponse): void {
  if (res.headersSent || res.destroyed) return;
  const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  const type = typeof answer.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  const headers: Record<string, string | number> = { 'content-type': type, 'content-length': Buffer.byteLength(text), ...answer.headers };
  // A body we did not read to the end (too large, refused early) makes the connection unusable.
  if (!req.complete) headers.connection = 'close';
  res.writeHead(answer.status, headers);
  res.end(text);
  if (!req.complete) {
    // Keep reading (and dropping) what the client still sends, so it gets to read our answer
    // instead of a reset; the connection closes once the answer is written.
    req.resume();
  }
}

/** Reads the body into memory, or throws 413 as soon as it is known to be larger than `max`. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(tooLarge(max));
  // Listeners, not for-await: leaving a for-await early destroys the socket, and the client
  // would see a reset instead of the 413.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= max) return void chunks.push(chunk);
      req.off('data', onData);
      reject(tooLarge(max));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, 'ERR_HTTP_BODY_TOO_LARGE', `request body over ${max} bytes`);
}
