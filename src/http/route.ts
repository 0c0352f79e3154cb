import type { IncomingHttpHeaders } from 'node:http';
import { TeamsshError, type ErrorCode } from '../errors.js';

/**
 * The contract between the HTTP listener and what it serves. A route is a plain object, so
 * adding an endpoint (webhooks, /healthz, /metrics) is one line in the list handed to
 * `startHttpListener`.
 */

/** A request as a route sees it: the body is already read (and capped) by the listener. */
export interface HttpRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The raw bytes: webhook signatures are computed over them, so nothing parses them first. */
  body: Buffer;
  remoteAddress: string;
}

/** A route's answer; an object `body` is sent as JSON, a string as text/plain. */
export interface HttpResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One endpoint: a method and an exact path. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  handle(req: HttpRequest): HttpResponse | Promise<HttpResponse>;
}

/** An error a route throws to answer with a status, a stable code and a message safe for the client. */
export class HttpError extends TeamsshError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
    this.name = 'HttpError';
  }
}

/** The JSON body of every error answer: `{"error": {"code", "message"}}`, never a stack trace. */
export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

/** Finds the route for a method and path, or says why none answers (404 unknown path, 405 wrong method). */
export function matchRoute(routes: readonly Route[], method: string, path: string): Route | HttpError {
  const onPath = routes.filter((r) => r.path === path);
  if (onPath.length === 0) return new HttpError(404, 'ERR_HTTP_NOT_FOUND', `no such endpoint: ${path}`);
  const route = onPath.find((r) => r.method === method);
  if (route) return route;
  const allow = onPath.map((r) => r.method).join(', ');
  return new HttpError(405, 'ERR_HTTP_METHOD', `${path} takes ${allow}`, { allow });
}
