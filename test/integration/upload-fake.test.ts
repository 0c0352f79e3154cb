import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { FakeAsciinema } from '../fakes/asciinema-server.js';
import { multipartBody } from '../../src/upload/multipart.js';
import { castText } from '../support/recordings.js';

/** The fake asciinema server answers as docs/external-systems.md §2–3 says, so tests built on it mean something. */

const ID = '0f8b2a5c-4c1e-4d36-9d6e-2d8c3a1b7e55';

async function post(base: string, opts: { path?: string; field?: string; filename?: string; text?: string | Buffer; auth?: string; fields?: Record<string, string> }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-fake-'));
  try {
    const file = path.join(dir, 'f.cast');
    await fs.writeFile(file, opts.text ?? castText(3));
    const mp = multipartBody(opts.fields ?? { visibility: 'private' }, { field: opts.field ?? 'file', filename: opts.filename ?? 'f.cast', path: file, bytes: (await fs.stat(file)).size });
    const res = await request(`${base}${opts.path ?? '/api/v1/recordings'}`, {
      method: 'POST',
      headers: { authorization: opts.auth ?? `Basic ${Buffer.from(`:${ID}`).toString('base64')}`, accept: 'application/json', 'content-type': mp.contentType, 'content-length': String(mp.length) },
      body: Readable.from(mp.body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: res.headers['content-type']?.toString().includes('json') ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('fake asciinema: paths, fields, auth, filename, validation, size, rate limit, accounts', async () => {
  const fake = new FakeAsciinema({ maxBytes: 50_000 });
  const base = await fake.start();
  try {
    const ok = await post(base, {});
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.location, `${base}/a/1`);
    assert.deepEqual(Object.keys(ok.json!).sort(), ['description', 'file_url', 'id', 'message', 'title', 'url', 'visibility']);
    assert.equal(ok.json!.visibility, 'private');
    assert.equal((await post(base, { path: '/api/asciicasts', field: 'asciicast' })).status, 201);
    assert.equal((await post(base, { path: '/api/asciicasts', field: 'file' })).status, 400, 'legacy path wants field asciicast');
    assert.equal((await post(base, { field: 'asciicast' })).status, 400, 'modern path wants field file');
    assert.equal((await post(base, { filename: '' })).status, 400, 'an empty filename is not a file');
    const upper = await post(base, { auth: `Basic ${Buffer.from(`:${ID.toUpperCase()}`).toString('base64')}` });
    assert.equal(upper.status, 401);
    assert.equal(upper.json!.type, 'unauthenticated');
    assert.equal((await post(base, { auth: 'Bearer x' })).status, 401);
    const v3 = await post(base, { text: '{"version":3,"term":{"cols":80,"rows":24}}\n[0.1,"o","x"]\n' });
    assert.equal(v3.status, 422);
    assert.equal(v3.json!.type, 'validation_failed');
    const cases: Array<[string, string]> = [
      ['{"version":2,"width":0,"height":24}\n[0,"o","x"]\n', 'cols'],
      ['{"version":2,"width":80,"height":201}\n[0,"o","x"]\n', 'rows'],
      ['{"version":2,"width":80,"height":24,"env":{"TERM":null}}\n[0,"o","x"]\n', 'env'],
      ['{"version":2,"width":80,"height":24}\n[1,"o","x"]\n[0.5,"o","y"]\n', 'events'],
      ['{"version":2,"width":80,"height":24}\n', 'events'],
      ['{"version":2,"width":80,"height":24,"theme":{"fg":"#FFFFFF","bg":"#000000","palette":"#000000"}}\n[0,"o","x"]\n', 'theme'],
    ];
    for (const [text, field] of cases) {
      const r = await post(base, { text });
      assert.equal(r.status, 422, text);
      assert.equal((r.json!.details as Array<{ field: string }>)[0]!.field, field);
    }
    assert.equal((await post(base, { text: Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]) })).status, 422, 'gzip refused');
    assert.equal((await post(base, { text: castText(2000, 40) })).status, 413);
    fake.legacyOnly = true;
    assert.equal((await post(base, {})).status, 404);
    fake.legacyOnly = false;
    fake.rateLimitNext(1, 30);
    const rl = await post(base, {});
    assert.equal(rl.status, 429);
    assert.ok(Number(rl.headers['x-ratelimit-reset']) > Date.now() / 1000);
    fake.requireAccounts(true);
    const other = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const acc = await post(base, { auth: `Basic ${Buffer.from(`bob:${other}`).toString('base64')}` });
    assert.equal(acc.status, 401);
    assert.equal(acc.json!.type, 'account_required');
    assert.equal((await post(base, {})).status, 201, 'an id already known keeps working');
    fake.register(other);
    assert.equal((await post(base, { auth: `Basic ${Buffer.from(`bob:${other}`).toString('base64')}` })).status, 201);
    assert.equal(fake.uploads.at(-1)!.username, 'bob');
    fake.failNext(502, 1);
    assert.equal((await post(base, {})).status, 502);
    await fake.down();
    await assert.rejects(post(base, {}), /ECONNREFUSED/);
    await fake.up();
    assert.equal((await post(base, {})).status, 201);
    assert.equal(fake.uploads.length, 5);
  } finally {
    await fake.stop();
  }
});

test('fake asciinema: a real 10/min/IP limit', async () => {
  const fake = new FakeAsciinema({ ratePerMinute: 10 });
  const base = await fake.start();
  try {
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await post(base, {})).status);
    assert.deepEqual(statuses, [...Array(10).fill(201), 429, 429]);
  } finally {
    await fake.stop();
  }
});
