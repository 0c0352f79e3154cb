import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Account } from '../../src/launch/account.js';
import { spawnProgram } from '../../src/launch/spawn.js';
import { DEFAULT_LAUNCHER_PATH } from '../../src/launch/launch-args.js';
import { DEFAULT_SPAWNER_PATH, onSpawnerDeath, type SpawnerDeath } from '../../src/launch/spawner-client.js';
import type { Program } from '../../src/launch/program.js';
import { readProcStat } from '../../src/launch/process-tree.js';
import { ensureTestAccount } from '../support/accounts.js';
import { waitFor } from '../support/poll.js';
import { observe, testEnv } from '../support/session-harness.js';

let account: Account;
const spawned: Program[] = [];
before(async () => {
  // Without the binary the server silently takes the direct path and these tests would wait
  // for a spawner that never comes; say what is missing instead.
  try {
    accessSync(DEFAULT_SPAWNER_PATH, constants.X_OK);
  } catch {
    throw new Error(`${DEFAULT_SPAWNER_PATH} is missing: run npm run build (it builds the C spawner) before these tests`);
  }
  account = await ensureTestAccount('tsshspawn');
});
after(() => Promise.all(spawned.map((s) => s.terminate(200))));

function run(args: string[], env = testEnv(account)) {
  const s = spawnProgram({ account, allowRoot: false, file: '/bin/sh', args, env });
  spawned.push(s);
  return { s, o: observe(s) };
}

const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** The spawner that started a running program: its parent. */
async function spawnerOf(s: Program): Promise<number> {
  await waitFor(() => s.pid > 0, { what: 'the program has a pid' });
  const ppid = readProcStat(s.pid)?.ppid ?? -1;
  assert.equal(comm(ppid), 'teamssh-spawner', 'a pipe session is started by the spawner, not by a fork of the server');
  return ppid;
}

test('pipe sessions are started by the spawner, which never forks the server again', async () => {
  const a = run(['-c', 'read line; echo "got $line"']);
  const b = run(['-c', 'read line; echo "got $line"']);
  const first = await spawnerOf(a.s);
  assert.equal(await spawnerOf(b.s), first, 'one spawner serves every session');
  a.s.write(Buffer.from('a\n'));
  b.s.write(Buffer.from('b\n'));
  assert.deepEqual(await a.o.exited, { code: 0, signal: null });
  assert.deepEqual(await b.o.exited, { code: 0, signal: null });
  assert.equal(a.o.stdout(), 'got a\n');
  assert.equal(b.o.stdout(), 'got b\n');
});

test('the environment reaches the program byte for byte, as child_process would pass it', async () => {
  // JSON escapes, a surrogate pair and a lone surrogate (U+FFFD, as Node's own conversion does).
  const value = 'a"\\é😀\n\t\u0001\u007f-\ud800-z';
  const { o } = run(['-c', 'printf %s "$ODD"'], { ...testEnv(account), ODD: value });
  assert.deepEqual(await o.exited, { code: 0, signal: null });
  assert.equal(o.stdout(), value.replace('\ud800', '\ufffd'));
});

test('a spawner that dies is replaced; its running session still ends and reports a status', async () => {
  const a = run(['-c', 'cat; echo done']);
  const old = await spawnerOf(a.s);
  const deaths: SpawnerDeath[] = [];
  const stop = onSpawnerDeath((d) => deaths.push(d));
  process.kill(old, 'SIGKILL');
  await waitFor(() => readProcStat(old) === undefined, { what: 'old spawner gone and reaped' });
  // The server logs through this: an operator must hear that logins lost the spawner.
  await waitFor(() => deaths.length === 1, { what: 'the death reported to listeners' });
  stop();
  assert.equal(deaths[0]!.directForGood, false);
  // The next session gets a new spawner.
  const b = run(['-c', 'echo fresh']);
  assert.notEqual(await spawnerOf(b.s).catch(() => -1), old);
  assert.deepEqual(await b.o.exited, { code: 0, signal: null });
  assert.equal(b.o.stdout(), 'fresh\n');
  // The orphaned session keeps its stdio; its exit status died with the spawner.
  a.s.write(Buffer.from('still here\n'));
  a.s.endInput();
  assert.deepEqual(await a.o.exited, { code: 255, signal: null });
  assert.equal(a.o.stdout(), 'still here\ndone\n');
});

/** A spawner of our own, spoken to in its raw protocol (docs/spawner.md). */
function rawSpawner(): { proc: ChildProcess; next: () => Promise<{ m: Record<string, unknown>; h: unknown }> } {
  const proc = spawn(DEFAULT_SPAWNER_PATH, [DEFAULT_LAUNCHER_PATH, String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: {} });
  const queue: Array<{ m: Record<string, unknown>; h: unknown }> = [];
  const waiters: Array<(v: { m: Record<string, unknown>; h: unknown }) => void> = [];
  proc.on('message', (m: Record<string, unknown>, h: unknown) => {
    const w = waiters.shift();
    if (w) w({ m, h });
    else queue.push({ m, h });
  });
  const next = () => new Promise<{ m: Record<string, unknown>; h: unknown }>((resolve) => {
    const q = queue.shift();
    if (q) resolve(q);
    else waiters.push(resolve);
  });
  return { proc, next };
}

test('a broken request never crashes the spawner: it answers with an error or ignores it', async () => {
  const { proc, next } = rawSpawner();
  const exited = new Promise((r) => proc.once('exit', r));
  const send = (m: unknown) => new Promise<void>((resolve, reject) => proc.send(m as object, (e) => (e ? reject(e) : resolve())));
  await send('just a string');
  await send([1, 2, 3]);
  await send({ cmd: 'spawn', id: 7 });
  assert.deepEqual((await next()).m, { id: 7, error: 'bad request' });
  await send({ cmd: 'spawn', id: 8, argv: ['x', { nested: true }], env: [] });
  assert.deepEqual((await next()).m, { id: 8, error: 'bad request' });
  await send({ cmd: 'spawn', id: 9, argv: ['teamssh-launch'], env: ['A=\u0000'] });
  assert.deepEqual((await next()).m, { id: 9, error: 'bad request' });
  await send({ cmd: 'spawn', id: 10, argv: [], env: [] });
  assert.deepEqual((await next()).m, { id: 10, error: 'bad request' });
  await send({ cmd: 'spawn', id: 11, argv: ['x'], env: [], extra: 'x'.repeat(2 * 1024 * 1024) });
  await send({ cmd: 'spawn', id: 99999999999999999999, argv: ['x'], env: [] });
  await send({ cmd: 'unknown' });
  // Still alive and serving: a good request gets its three stdio handles and its exit.
  const uid = String(account.uid);
  await send({ cmd: 'spawn', id: 12, argv: ['teamssh-launch', uid, uid, '-', '/', 'no-root', '-', '0', '/bin/echo', 'echo', 'ok'], env: [] });
  const streams: Socket[] = [];
  for (let k = 0; k < 3; k++) {
    const { m, h } = await next();
    assert.equal(m.id, 12);
    assert.equal(m.stream, k);
    streams.push(new Socket({ handle: h, readable: k !== 0, writable: k === 0 } as ConstructorParameters<typeof Socket>[0]));
  }
  const out: Buffer[] = [];
  streams[1]!.on('data', (b: Buffer) => out.push(b));
  const ended = new Promise((r) => streams[1]!.once('end', r));
  const { m } = await next();
  assert.equal(m.id, 12);
  assert.equal(m.code, 0);
  await ended;
  assert.equal(Buffer.concat(out).toString(), 'ok\n');
  for (const s of streams) s.destroy();
  proc.disconnect();
  await exited;
});

test('the spawner dies with the server', async () => {
  // A stand-in server: starts a session through the spawner, then is killed without warning.
  const script = `
    const { spawnProgram } = await import(${JSON.stringify(new URL('../../src/launch/spawn.js', import.meta.url).href)});
    const s = spawnProgram(${JSON.stringify({ account, allowRoot: false, file: '/bin/sleep', args: ['1000'], env: testEnv(account) })});
    const t = setInterval(() => { if (s.pid > 0) { console.log(s.pid); clearInterval(t); } }, 10);`;
  const server = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve) => server.stdout.once('data', (b: Buffer) => resolve(Number(String(b).trim()))));
  const spawner = readProcStat(pid)?.ppid ?? -1;
  assert.equal(comm(spawner), 'teamssh-spawner');
  server.kill('SIGKILL');
  await waitFor(() => readProcStat(spawner) === undefined || readProcStat(spawner)?.state === 'Z', { what: 'spawner ended with the server', timeoutMs: 5000 });
  process.kill(-pid, 'SIGKILL');
});
