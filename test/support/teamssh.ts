import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FakeGitHub, type FakeGitHubOptions } from '../fakes/github.js';
import { ensureTestAccount } from './accounts.js';
import { validateAsciicast } from './asciicast-validator.js';
import { LogCapture } from './log-capture.js';
import { seedRsaHostKey } from './host-key-seed.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server/server.js';

const run = promisify(execFile);

/** A client key pair made by the real ssh-keygen. */
export interface ClientKey {
  path: string;
  /** `type base64` as GitHub lists it (no comment). */
  publicLine: string;
}

/** Generates an OpenSSH key pair of `type` in `dir`. */
export async function makeKey(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): Promise<ClientKey> {
  const file = path.join(dir, name);
  await run('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', file]);
  const pub = (await readFile(`${file}.pub`, 'utf8')).trim().split(' ');
  return { path: file, publicLine: `${pub[0]} ${pub[1]}` };
}

/** A teamssh server on 127.0.0.1 with a fake GitHub behind it and a member, `alice`, in team `ops`. */
export interface Harness {
  dir: string;
  github: FakeGitHub;
  config: Config;
  server: RunningServer;
  log: LogCapture;
  port: number;
  alice: ClientKey;
  /** Runs the real OpenSSH client. */
  ssh(user: string, key: ClientKey, args: string[], opts?: { input?: string | Buffer; sshOptions?: string[]; timeoutMs?: number }): Promise<SshResult>;
  close(): Promise<void>;
}

/** What the ssh client did. */
export interface SshResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The local account sessions run as in tests. */
export const TEST_ACCOUNT = 'teamssh-t1';

/** Starts a harness; `env` (and whatever `setup` returns) adds or overrides TEAMSSH_* settings. */
export async function startHarness(opts: { env?: Record<string, string>; github?: Partial<FakeGitHubOptions>; setup?: (gh: FakeGitHub, dir: string) => Promise<Record<string, string> | void> | Record<string, string> | void } = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-it-'));
  await chmod(dir, 0o755);
  await ensureTestAccount(TEST_ACCOUNT);
  const alice = await makeKey(dir, 'alice');
  const github = new FakeGitHub({ org: 'acme', token: 'ghp_testtoken123', ...opts.github });
  github.addTeam('ops').addUser('Alice', { keys: [alice.publicLine] }).addMember('ops', 'Alice');
  const setupEnv = (await opts.setup?.(github, dir)) ?? {};
  await seedRsaHostKey(path.join(dir, 'state'));
  const apiUrl = await github.start();
  const env: Record<string, string> = {
    TEAMSSH_LISTEN: '127.0.0.1:0',
    TEAMSSH_STATE_DIR: path.join(dir, 'state'),
    TEAMSSH_RECORDINGS_DIR: path.join(dir, 'recordings'),
    TEAMSSH_GITHUB_ORG: 'acme',
    TEAMSSH_GITHUB_TEAMS: 'ops',
    GITHUB_TOKEN: 'ghp_testtoken123',
    TEAMSSH_GITHUB_API_URL: apiUrl,
    TEAMSSH_SHELL_USER: TEST_ACCOUNT,
    TEAMSSH_LOG_LEVEL: 'debug',
    TEAMSSH_KILL_GRACE: '1',
    ...opts.env,
    ...setupEnv,
  };
  const config = loadConfig({ env });
  const log = new LogCapture();
  // A reload re-reads the same environment, so what can change is the config file (TEAMSSH_CONFIG).
  const server = await startServer(config, createLogger({ level: 'debug', destination: log }), { reread: () => loadConfig({ env }) });
  const port = server.address.port;
  return {
    dir,
    github,
    config,
    server,
    log,
    port,
    alice,
    ssh: (user, key, args, o = {}) => sshClient(port, user, key, args, o),
    async close() {
      await server.shutdown();
      await assertRecordingsValid(config.recordings.dir);
      await github.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Applies the asciinema server's rules (docs/external-systems.md §3) to every recording a test produced. */
export async function assertRecordingsValid(dir: string): Promise<void> {
  const files = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  for (const f of files.filter((x) => x.endsWith('.cast'))) {
    const problems = validateAsciicast(await readFile(path.join(dir, f), 'utf8'));
    assert.deepEqual(problems, [], `recording ${f} would be refused by the server`);
  }
}

/** Starts the real `ssh` client against 127.0.0.1:port with only `key`, no agent, no known_hosts; the caller drives it. */
export function spawnSsh(port: number, user: string, key: ClientKey, args: string[], sshOptions: string[] = []): ChildProcessWithoutNullStreams {
  return spawn(
    'ssh',
    [
      '-F', '/dev/null',
      '-i', key.path,
      '-p', String(port),
      '-o', 'IdentitiesOnly=yes',
      '-o', 'IdentityAgent=none',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'LogLevel=ERROR',
      ...sshOptions,
      `${user}@127.0.0.1`,
      ...args,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() } },
  );
}

/** Runs `ssh` against 127.0.0.1:port with only `key`, no agent, no known_hosts. */
export function sshClient(
  port: number,
  user: string,
  key: ClientKey,
  args: string[],
  o: { input?: string | Buffer; sshOptions?: string[]; timeoutMs?: number } = {},
): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawnSsh(port, user, key, args, o.sshOptions);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (o.input !== undefined) child.stdin.end(o.input);
    else child.stdin.end();
  });
}
