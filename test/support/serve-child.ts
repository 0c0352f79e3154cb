import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakeGitHub } from '../fakes/github.js';
import { ensureTestAccount } from './accounts.js';
import { waitFor } from './poll.js';
import { makeKey, TEST_ACCOUNT, type ClientKey } from './teamssh.js';

/** A `teamssh` command as a real child process, as an operator runs it. */
export interface CliChild {
  proc: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `teamssh serve` as a real child process. */
export interface Child extends CliChild {
  port: number;
}

/**
 * Starts `node dist/src/cli.js ARGS` with exactly `env` (plus PATH) and waits until its output
 * matches `ready.pattern`, which it returns with the child. `detached`: the child leads a
 * session of its own, as systemd starts services.
 */
export async function startCli(args: string[], env: Record<string, string>, ready: { pattern: RegExp; what: string }, opts: { detached?: boolean } = {}): Promise<CliChild & { ready: RegExpExecArray }> {
  const proc = spawn(process.execPath, ['dist/src/cli.js', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const match = await waitFor(
    () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`teamssh ${args[0]} exited (${proc.exitCode ?? proc.signalCode}) before ${ready.what}:\n${out}`);
      return ready.pattern.exec(out);
    },
    { timeoutMs: 15_000, intervalMs: 50, what: ready.what, detail: () => `output so far:\n${out}` },
  ).catch((err: unknown) => {
    // A child that never got ready is the test's to end: left running it would keep the test process alive.
    proc.kill('SIGKILL');
    throw err;
  });
  return { proc, output: () => out, exited, ready: match };
}

/** Starts `teamssh serve` with exactly `env` (plus PATH) and waits until it listens. */
export async function serve(env: Record<string, string>, opts: { detached?: boolean } = {}): Promise<Child> {
  const { ready, ...child } = await startCli(['serve'], env, { pattern: /"event":"listening".*?"port":(\d+)/, what: 'the server to listen' }, opts);
  return { ...child, port: Number(ready[1]) };
}


/** What `serve` needs to let `alice` (member of team `ops`, key `key`) in: a temp dir, a fake GitHub and the environment. */
export interface ServeFixture {
  dir: string;
  gh: FakeGitHub;
  env: Record<string, string>;
  key: ClientKey;
}

/** Makes a ServeFixture in a new temp dir named `prefix…`; `extra` is added to the environment. */
export async function serveFixture(prefix: string, extra: Record<string, string> = {}): Promise<ServeFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(dir, 0o755);
  await ensureTestAccount(TEST_ACCOUNT);
  const key = await makeKey(dir, 'alice');
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_x' });
  gh.addTeam('ops').addUser('alice', { keys: [key.publicLine] }).addMember('ops', 'alice');
  const env = {
    TEAMSSH_LISTEN: '127.0.0.1:0',
    TEAMSSH_STATE_DIR: path.join(dir, 'state'),
    TEAMSSH_RECORDINGS_DIR: path.join(dir, 'rec'),
    TEAMSSH_GITHUB_ORG: 'acme',
    TEAMSSH_GITHUB_TEAMS: 'ops',
    GITHUB_TOKEN: 'ghp_x',
    TEAMSSH_GITHUB_API_URL: await gh.start(),
    TEAMSSH_SHELL_USER: TEST_ACCOUNT,
    ...extra,
  };
  return { dir, gh, env, key };
}
