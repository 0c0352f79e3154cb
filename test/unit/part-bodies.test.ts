import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartBodies } from '../../src/upload/part-bodies.js';

/**
 * Parts go up from one buffer reused from part to part (fresh memory per part made V8 run full
 * collections during uploads), but a buffer is only reused once the server accepted the part
 * that used it.
 */

test('part bodies: one buffer serves every accepted part; after a part that was not accepted a fresh one', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-parts-'));
  try {
    const files = await Promise.all(
      ['a', 'b', 'c', 'd'].map(async (name, i) => {
        const file = path.join(dir, `${name}.cast`);
        await fs.writeFile(file, Buffer.alloc(1000 - i * 100, name));
        return { file, bytes: 1000 - i * 100, name };
      }),
    );
    const bodies = new PartBodies(4096);
    const a = (await bodies.read(files[0]!.file, files[0]!.bytes))!;
    assert.equal(a.toString(), 'a'.repeat(1000));
    bodies.accepted(a);
    const b = (await bodies.read(files[1]!.file, files[1]!.bytes))!;
    assert.equal(b.toString(), 'b'.repeat(900), 'exactly the part, no bytes of the one before');
    assert.equal(b.buffer, a.buffer, 'the accepted part\'s buffer is reused');
    bodies.accepted(b);
    // Not accepted (a retry gave up, 413, an error): its buffer may still be queued on a socket.
    const c = (await bodies.read(files[2]!.file, files[2]!.bytes))!;
    assert.equal(c.buffer, a.buffer);
    const d = (await bodies.read(files[3]!.file, files[3]!.bytes))!;
    assert.notEqual(d.buffer, c.buffer, 'a part that was not accepted gives up its buffer');
    assert.equal(d.toString(), 'd'.repeat(700));
    assert.equal(c.toString(), 'c'.repeat(800), 'and the bytes it lent stay as they were');
    // Too big to hold: streamed from disk instead; a file shorter than promised is an error.
    assert.equal(await bodies.read(files[0]!.file, 5000), undefined);
    await assert.rejects(bodies.read(files[3]!.file, 800), /shorter than the 800 bytes/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
