import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startHttpListener, MAX_BODY_BYTES, type HttpListener } from '../../src/http/listener.js';
import { HttpError, type Route } from '../../src/http/route.js';
import { captureLog } from '../support/log-capture.js';

const INTERNAL = 'db password is hunter2';

const routes: Route[] = [
  { method: 'GET', path: '/healthz', handle: () => ({ status: 200, body: { ok: true } }) },
  { method: 'POST', path: '/echo', handle: (req) => ({ status: 200, body: { bytes: req.body.length, remote: req.remoteAddress } }) },
  { method: 'POST', path: '/teapot', handle: () => { throw new HttpError(418, 'ERR_HTTP_BAD_REQUEST', 'short and stout'); } },
  { method: 'POST', path: '/boom', handle: () => { throw new Error(INTERNAL); } },
];

async function withListener(fn: (base: string, l: HttpListener) => Promise<void>): Promise<ReturnType<typeof captureLog>> {
  const log = captureLog();
  const l = await startHttpListener({ host: '127.0.0.1', port: 0 }, routes, log.logger);
  try {
    await fn(`http://127.0.0.1:${l.address.port}`, l);
  } finally {
    await l.close();
  }
  return log;
}

type Answer = { status: number; json: { error?: { code: string; message: string } } & Record<string, unknown>; headers: Headers; text: string };
async function call(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Answer['json'], headers: res.headers, text };
}

test('routes answer JSON; unknown paths 404 and wrong methods 405, both with a stable code', async () => {
  await withListener(async (base) => {
    const ok = await call(`${base}/healthz`);
    assert.deepEqual([ok.status, ok.json], [200, { ok: true }]);
    assert.match(ok.headers.get('content-type') ?? '', /^application\/json/);
    const missing = await call(`${base}/nope`);
    assert.deepEqual([missing.status, missing.json.error?.code], [404, 'ERR_HTTP_NOT_FOUND']);
    const wrong = await call(`${base}/healthz`, { method: 'POST', body: 'x' });
    assert.deepEqual([wrong.status, wrong.json.error?.code, wrong.headers.get('allow')], [405, 'ERR_HTTP_METHOD', 'GET']);
    const tea = await call(`${base}/teapot`, { method: 'POST' });
    assert.deepEqual([tea.status, tea.json.error], [418, { code: 'ERR_HTTP_BAD_REQUEST', message: 'short and stout' }]);
  });
});

test('a failing route answers 500 without its message or stack; the log has the cause', async () => {
  const log = await withListener(async (base) => {
    const res = await call(`${base}/boom`, { method: 'POST', body: '{}' });
    assert.deepEqual([res.status, res.json], [500, { error: { code: 'ERR_HTTP_INTERNAL', message: 'internal error' } }]);
    assert.ok(!res.text.includes(INTERNAL) && !res.text.includes('at '), res.text);
  });
  assert.ok(log.lines.some((l) => l.event === 'http_error' && JSON.stringify(l).includes(INTERNAL)), 'the cause is logged for the operator');
});

test('bodies up to 1 MB are read whole; above, 413, whether the length is declared or streamed', async () => {
  await withListener(async (base) => {
    const full = await call(`${base}/echo`, { method: 'POST', body: Buffer.alloc(MAX_BODY_BYTES, 97) });
    assert.deepEqual([full.status, full.json.bytes, full.json.remote], [200, MAX_BODY_BYTES, '127.0.0.1']);
    const declared = await call(`${base}/echo`, { method: 'POST', body: Buffer.alloc(MAX_BODY_BYTES + 1, 97) });
    assert.deepEqual([declared.status, declared.json.error?.code], [413, 'ERR_HTTP_BODY_TOO_LARGE']);
    // Chunked, no content-length: the cap is found while reading.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${base}/echo`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 98);
      let sent = 0;
      const pump = (): void => {
        while (sent < 3 * MAX_BODY_BYTES) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(streamed.status, 413);
    assert.equal((JSON.parse(streamed.body) as { error: { code: string } }).error.code, 'ERR_HTTP_BODY_TOO_LARGE');
    // The listener still serves after refusing.
    assert.equal((await call(`${base}/healthz`)).status, 200);
  });
});

test('a taken address is one clear error with a stable code', async () => {
  await withListener(async (_base, l) => {
    await assert.rejects(startHttpListener({ host: '127.0.0.1', port: l.address.port }, routes, captureLog().logger), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_HTTP_LISTEN');
      assert.match(err.message, /EADDRINUSE/);
      return true;
    });
  });
});
