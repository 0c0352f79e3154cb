import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { serve, serveFixture, type ServeFixture } from '../support/serve-child.js';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { connect, shell } from '../support/ssh2-client.js';
import { validateAsciicast } from '../support/asciicast-validator.js';

function setup(): Promise<ServeFixture> {
  return serveFixture('teamssh-sd-', { TEAMSSH_SHUTDOWN_GRACE: '1', TEAMSSH_KILL_GRACE: '1' });
}

test('SIGTERM tells a live session, ends it after the grace, finishes its recording and exits 0', async () => {
  const { dir, gh, env, key } = await setup();
  try {
    const srv = await serve(env);
    const c = await connect(srv.port, 'alice', key);
    const s = await shell(c);
    s.channel.write('echo live\n');
    await s.waitFor('live');
    srv.proc.kill('SIGTERM');
    await s.waitFor('server is shutting down');
    await s.exit;
    assert.deepEqual(await srv.exited, { code: 0, signal: null });
    const casts = (await readdir(env.TEAMSSH_RECORDINGS_DIR!)).filter((f) => f.endsWith('.cast'));
    assert.equal(casts.length, 1);
    const text = await readFile(path.join(env.TEAMSSH_RECORDINGS_DIR!, casts[0]!), 'utf8');
    assert.deepEqual(validateAsciicast(text), []);
    assert.match(text, /server is shutting down/);
    assert.match(srv.output(), /"event":"session_end".*"endReason":"shutdown"/);
    c.end();
  } finally {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('after kill -9 mid-session, the next start finalises the recording and marks it incomplete', async () => {
  const { dir, gh, env, key } = await setup();
  try {
    const srv = await serve(env);
    const c = await connect(srv.port, 'alice', key);
    c.on('error', () => undefined);
    const s = await shell(c);
    s.channel.write('echo before-crash\n');
    await s.waitFor('before-crash');
    await new Promise((r) => setTimeout(r, 300)); // let the recorder's buffer reach the file
    srv.proc.kill('SIGKILL');
    await srv.exited;
    const rec = env.TEAMSSH_RECORDINGS_DIR!;
    const live = path.join(rec, 'live');
    // The live session's files are in live/: the top, which the uploader watches, has none of them.
    assert.ok((await readdir(live)).some((f) => f.endsWith('.cast.part')));
    assert.ok((await readdir(live)).some((f) => f.endsWith('.part.json')));
    assert.ok(!(await readdir(rec)).some((f) => f.includes('.part')), `top: ${(await readdir(rec)).join(', ')}`);
    const again = await serve(env);
    const casts = (await readdir(rec)).filter((f) => f.endsWith('.cast'));
    assert.equal(casts.length, 1);
    assert.ok(!(await readdir(rec)).some((f) => f.endsWith('.part')));
    assert.deepEqual((await readdir(live)).filter((f) => f.includes('.part')), [], 'recovery finalised the .part from live/');
    assert.deepEqual(validateAsciicast(await readFile(path.join(rec, casts[0]!), 'utf8')), []);
    const sidecar = JSON.parse(await readFile(path.join(rec, casts[0]!.replace(/\.cast$/, '.json')), 'utf8')) as Record<string, unknown>;
    assert.equal(sidecar.complete, false);
    assert.ok(sidecar.reason);
    again.proc.kill('SIGTERM');
    await again.exited;
  } finally {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad configuration stops the start with one message naming every problem, no stack trace', async () => {
  const proc = spawn(process.execPath, ['dist/src/cli.js', 'serve'], {
    env: { PATH: process.env.PATH ?? '', TEAMSSH_LISTEN: 'nope', TEAMSSH_CACHE_TTL: 'soon', ASCIINEMA_SERVER_URL: 'https://asciinema.org' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((r) => proc.on('exit', r));
  assert.equal(code, 2);
  for (const name of ['TEAMSSH_LISTEN', 'TEAMSSH_CACHE_TTL', 'TEAMSSH_GITHUB_ORG', 'TEAMSSH_GITHUB_TEAMS', 'GITHUB_TOKEN']) assert.match(err, new RegExp(name));
  assert.doesNotMatch(err, /\n\s+at /);
});
