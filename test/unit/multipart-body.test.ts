import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { multipartBody } from '../../src/upload/multipart.js';

/** The multipart body of an upload: bytes held in memory go out exactly as the file streamed from disk would. */

async function collect(body: AsyncIterable<Buffer> | Iterable<Buffer> | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

test('a body built from bytes in hand is one buffer, identical to the streamed one but for the boundary', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-mp-'));
  try {
    const file = path.join(dir, 'r.cast');
    const data = Buffer.from('{"version":2,"width":80,"height":24}\n[0.1,"o","h\\u00e9llo"]\n');
    await fs.writeFile(file, data);
    const fields = { title: 'a "quoted" title', description: 'teamssh session\nlogin: alice', visibility: 'private' };
    const part = { field: 'file', filename: 'r.cast', path: file, bytes: data.length };
    const streamed = multipartBody(fields, part);
    const held = multipartBody(fields, { ...part, data });
    assert.ok(Buffer.isBuffer(held.body), 'held bytes make one buffer (one socket write)');
    const a = await collect(streamed.body);
    const b = await collect(held.body);
    assert.equal(a.length, streamed.length);
    assert.equal(b.length, held.length);
    const boundaryOf = (ct: string) => ct.slice(ct.indexOf('boundary=') + 'boundary='.length);
    const norm = (buf: Buffer, ct: string) => buf.toString('latin1').replaceAll(boundaryOf(ct), 'B');
    assert.equal(norm(b, held.contentType), norm(a, streamed.contentType));
    await fs.writeFile(file, 'changed on disk after it was read');
    assert.ok((await collect(held.body)).includes(data), 'the held body sends the bytes that were read, not the file as it is now');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a large part in hand is sent as it is, not copied into a joined body; the same bytes as streamed', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-mp-'));
  try {
    const file = path.join(dir, 'p.cast');
    const data = Buffer.alloc(3 << 20, 'x');
    await fs.writeFile(file, data);
    const part = { field: 'file', filename: 'p.cast', path: file, bytes: data.length };
    const held = multipartBody({ title: 't' }, { ...part, data });
    assert.ok(!Buffer.isBuffer(held.body), 'pieces, not one joined copy');
    const pieces = [...(held.body as Iterable<Buffer>)];
    assert.ok(pieces.includes(data), 'the caller\'s buffer itself is one of the pieces');
    const streamed = multipartBody({ title: 't' }, part);
    const boundaryOf = (ct: string) => ct.slice(ct.indexOf('boundary=') + 'boundary='.length);
    const norm = (buf: Buffer, ct: string) => buf.toString('latin1').replaceAll(boundaryOf(ct), 'B');
    const b = await collect(held.body);
    assert.equal(b.length, held.length);
    assert.equal(norm(b, held.contentType), norm(await collect(streamed.body), streamed.contentType));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
