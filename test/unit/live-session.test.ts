import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServerChannel } from 'ssh2';
import { loadConfig } from '../../src/config/load.js';
import type { Account } from '../../src/launch/account.js';
import type { Program, SpawnOptions } from '../../src/launch/program.js';
import { Recorder, type RecorderOptions } from '../../src/recording/recorder.js';
import { LiveSession, type SessionDeps } from '../../src/session/live-session.js';
import { SessionRegistry } from '../../src/session/registry.js';
import { captureLog } from '../support/log-capture.js';

const ACCOUNT: Account = { name: 'nobody', uid: 65534, gid: 65534, groups: [65534], home: '/', shell: '/bin/sh' };

/** Enough of an ssh2 ServerChannel to see what the client would get. */
class FakeChannel extends EventEmitter {
  writable = true;
  destroyed = false;
  exitedWith: unknown[] | undefined;
  ended = false;
  readonly stderrText: string[] = [];
  readonly stderr = { write: (b: string | Buffer) => this.stderrText.push(String(b)) };
  write(): boolean {
    return true;
  }
  exit(...args: unknown[]): void {
    this.exitedWith = args;
  }
  end(): void {
    this.ended = true;
    this.writable = false;
  }
  /** The client disconnects: ssh2 emits close on the channel. */
  disconnect(): void {
    this.writable = false;
    this.destroyed = true;
    this.emit('close');
  }
}

/** A promise the test resolves when it chooses: a slow dependency. */
function gate<T>() {
  let open!: (v: T) => void;
  const wait = new Promise<T>((r) => (open = r));
  return { wait, open };
}

/** A program that does nothing but report its exit through `onExit` and be ended through `terminate`. */
function stubProgram(onExit: Program['onExit'], terminate: Program['terminate']): Program {
  const none = () => {};
  return { pid: 1, onStdout: none, onStderr: none, write: () => true, onInputDrain: none, endInput: none, resize: none, pause: none, resume: none, signal: none, onExit, terminate };
}

async function world(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = loadConfig({ env: { TEAMSSH_GITHUB_ORG: 'acme', TEAMSSH_GITHUB_TEAMS: 'ops', GITHUB_TOKEN: 't', TEAMSSH_SHELL_USER: 'nobody', TEAMSSH_RECORDINGS_DIR: dir } });
  const registry = new SessionRegistry<LiveSession>(1);
  const log = captureLog();
  const spawned: SpawnOptions[] = [];
  const make = (over: Partial<SessionDeps>) => {
    const admission = registry.tryAdmit('alice');
    assert.ok(admission, 'a slot is free');
    const channel = new FakeChannel();
    const session = new LiveSession(channel as unknown as ServerChannel, { kind: 'exec', command: 'sleep 1000', clientEnv: [] }, {
      settings: config.sessions,
      recordings: config.recordings,
      logger: log.logger,
      identity: { login: 'alice', teams: ['ops'], fingerprint: 'SHA256:abc', keyAlgo: 'ssh-ed25519', hookEnv: {}, stale: false },
      ends: { remoteAddress: '127.0.0.1', remotePort: 1234, localAddress: '127.0.0.1', localPort: 22 },
      connectionId: 'c1',
      hostname: 'bastion',
      version: 'test',
      admission,
      spawn: (opts) => {
        spawned.push(opts);
        throw new Error('nothing may be spawned in this test');
      },
      ...over,
    });
    return { session, channel };
  };
  return { dir, registry, log, spawned, make };
}

test('a client that disconnects while the account lookup is slow: nothing is spawned, the slot is freed', async (t) => {
  const w = await world(t);
  const lookup = gate<Account>();
  const { session, channel } = w.make({ lookupAccount: () => lookup.wait });
  assert.equal(w.registry.byLogin('alice').length, 1, 'registered while starting');
  const started = session.start();
  assert.equal(session.state, 'starting');
  channel.disconnect();
  assert.equal(session.state, 'ending');
  lookup.open(ACCOUNT);
  await started;
  await session.done;
  assert.equal(session.state, 'done');
  assert.deepEqual(w.spawned, [], 'no program was started');
  assert.equal(w.registry.count('alice'), 0, 'the slot is free again');
  assert.equal(w.registry.size, 0);
  const end = w.log.lines.find((l) => l.event === 'session_end');
  assert.equal(end?.endReason, 'client_closed');
  assert.equal(end?.started, false);
});

test('a client that disconnects while the recording is being opened: nothing is spawned and the recording is still finished', async (t) => {
  const w = await world(t);
  const recorder = gate<void>();
  const { session, channel } = w.make({
    lookupAccount: async () => ACCOUNT,
    createRecorder: async (opts: RecorderOptions) => {
      const rec = await Recorder.create(opts);
      await recorder.wait;
      return rec;
    },
  });
  const started = session.start();
  await new Promise((r) => setTimeout(r, 20));
  channel.disconnect();
  recorder.open();
  await started;
  await session.done;
  assert.deepEqual(w.spawned, []);
  assert.equal(w.registry.count('alice'), 0);
  // A recording that was opened is never lost: it is finished with the reason the session ended.
  const files = (await readdir(w.dir)).sort();
  assert.equal(files.filter((f) => f.endsWith('.cast')).length, 1, files.join(', '));
  assert.equal(files.filter((f) => f.endsWith('.part')).length, 0, files.join(', '));
  const end = w.log.lines.find((l) => l.event === 'session_end');
  assert.equal(end?.endReason, 'client_closed');
  assert.match(String(end?.sha256), /^[0-9a-f]{64}$/);
});

test('end() while running terminates the program once; later calls change nothing', async (t) => {
  const w = await world(t);
  let terminations = 0;
  let exit!: (e: { code: number | null; signal: string | null }) => void;
  const program = stubProgram((cb) => void (exit = cb), async () => {
    terminations++;
    exit({ code: null, signal: 'HUP' });
  });
  const { session, channel } = w.make({ lookupAccount: async () => ACCOUNT, spawn: () => program });
  await session.start();
  assert.equal(session.state, 'running');
  session.end('shutdown', 'server is going down');
  session.end('idle_timeout');
  await session.done;
  assert.equal(session.state, 'done');
  assert.ok(terminations >= 1);
  assert.deepEqual(channel.exitedWith?.slice(0, 1), ['HUP']);
  assert.equal(w.log.lines.find((l) => l.event === 'session_end')?.endReason, 'shutdown');
  assert.equal(w.registry.size, 0);
});

test('the program exits: the client gets its exit status before what the program left behind is ended', async (t) => {
  const w = await world(t);
  let exit!: (e: { code: number | null; signal: string | null }) => void;
  // The clean-up (SIGHUP to leftovers, cgroup removal) is slow here: the status must not wait for it.
  const cleanup = gate<void>();
  let terminations = 0;
  const program = stubProgram((cb) => void (exit = cb), async () => {
    terminations++;
    await cleanup.wait;
  });
  const { session, channel } = w.make({ lookupAccount: async () => ACCOUNT, spawn: () => program });
  await session.start();
  exit({ code: 3, signal: null });
  await new Promise((r) => setImmediate(r));
  try {
    assert.deepEqual(channel.exitedWith, [3], 'exit status sent while the clean-up is still running');
    assert.ok(channel.ended);
    assert.equal(session.state, 'ending', 'not done before the clean-up');
  } finally {
    cleanup.open();
    await session.done;
  }
  assert.equal(terminations, 1);
  assert.deepEqual(channel.exitedWith, [3], 'the status is sent once');
  assert.equal(w.log.lines.find((l) => l.event === 'session_end')?.exitStatus, 3);
  assert.equal(w.registry.size, 0);
});
