import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeGitHub } from '../test/fakes/github.js';
import { FakeAsciinema } from '../test/fakes/asciinema-server.js';
import { ownChild } from './child.js';

/**
 * teamssh as an operator runs it: `node dist/src/cli.js serve` (or `upload`) in its own
 * process, configured only through the environment, with the two network peers it cannot
 * reach here (GitHub, the asciinema server) replaced by the test fakes in this process.
 */

/** The compiled CLI, next to this file's compiled directory. */
export const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** The GitHub login the bench logs in as. */
export const BENCH_LOGIN = 'bench';

/** The fakes teamssh talks to, shared by the server and a separate uploader. */
export interface Fakes {
  github: FakeGitHub;
  asciinema: FakeAsciinema;
  githubUrl: string;
  asciinemaUrl: string;
  installId: string;
  stop(): Promise<void>;
}

/** A running teamssh child process. */
export interface RunningTeamssh {
  port: number;
  pid: number;
  recordingsDir: string;
  /** Log lines seen on stdout (JSON-parsed; the last few hundred). */
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts a fake GitHub with `login` in team `ops` holding `publicLine`, and a fake asciinema server (no rate limit). */
export async function startFakes(publicLine: string, login = BENCH_LOGIN): Promise<Fakes> {
  const github = new FakeGitHub({ org: 'acme', token: 'ghp_benchtoken' });
  github.addTeam('ops').addUser(login, { keys: [publicLine] }).addMember('ops', login);
  const asciinema = new FakeAsciinema();
  // The fake's 429 is off by default; keep it that way so the drain rate measures teamssh.
  asciinema.ratePerMinute = undefined;
  const githubUrl = await github.start();
  const asciinemaUrl = await asciinema.start();
  return {
    github, asciinema, githubUrl, asciinemaUrl,
    installId: randomUUID().toLowerCase(),
    async stop() {
      await asciinema.stop();
      await github.stop();
    },
  };
}

/** The whole configuration of a bench teamssh, as environment variables. */
export function teamsshEnv(o: { dir: string; recordingsDir: string; fakes: Fakes; account: string; logLevel: string }): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    TEAMSSH_LISTEN: '127.0.0.1:0',
    TEAMSSH_STATE_DIR: path.join(o.dir, 'state'),
    TEAMSSH_RECORDINGS_DIR: o.recordingsDir,
    TEAMSSH_GITHUB_ORG: 'acme',
    TEAMSSH_GITHUB_TEAMS: 'ops',
    GITHUB_TOKEN: o.fakes.github.token,
    TEAMSSH_GITHUB_API_URL: o.fakes.githubUrl,
    TEAMSSH_SHELL_USER: o.account,
    TEAMSSH_LOG_LEVEL: o.logLevel,
    TEAMSSH_CACHE_TTL: '3600',
    TEAMSSH_MAX_SESSIONS_PER_LOGIN: '2000',
    TEAMSSH_MAX_UNAUTHENTICATED: '1000',
    ASCIINEMA_SERVER_URL: o.fakes.asciinemaUrl,
    ASCIINEMA_INSTALL_ID: o.fakes.installId,
  };
}

/** Spawns the CLI with `args` and `env`, keeping a bounded tail of its output and killing it if the bench dies. */
function spawnCli(args: string[], env: Record<string, string>, nodeArgs: string[]): { child: ChildProcess; logs: Array<Record<string, unknown>>; tail: () => string; stop: () => Promise<void> } {
  // detached: teamssh leads its own session, as systemd starts a service (and as each sshd
  // connection process does); the server's priority boost needs that (docs/priority.md).
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    raw = (raw + d).slice(-4000);
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not a log line */
      }
      if (logs.length > 500) logs.splice(0, logs.length - 500);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (raw = (raw + d).slice(-4000)));
  // teamssh gives live sessions a shutdown grace; the bench has none left by then.
  const stop = ownChild(child, 5000);
  return { child, logs, tail: () => raw, stop };
}

/** Starts `teamssh serve` and resolves with the port from its `listening` log line. */
export async function startTeamssh(o: { dir: string; fakes: Fakes; account: string; logLevel?: string; nodeArgs?: string[]; env?: Record<string, string> }): Promise<RunningTeamssh> {
  const recordingsDir = path.join(o.dir, 'recordings');
  await mkdir(o.dir, { recursive: true });
  // `listening` is an info line: below info the port would never be announced.
  const env = { ...teamsshEnv({ dir: o.dir, recordingsDir, fakes: o.fakes, account: o.account, logLevel: o.logLevel ?? 'info' }), ...o.env };
  const p = spawnCli(['serve'], env, o.nodeArgs ?? []);
  const deadline = Date.now() + 20_000;
  let port: number | undefined;
  while (port === undefined) {
    const hit = p.logs.find((l) => l.event === 'listening' && typeof l.port === 'number');
    if (hit) port = hit.port as number;
    else if (p.child.exitCode !== null || p.child.signalCode !== null || Date.now() > deadline) {
      await p.stop();
      throw new Error(`teamssh serve did not announce a port (exit ${p.child.exitCode ?? p.child.signalCode ?? 'none'}):\n${p.tail()}`);
    } else await new Promise((r) => setTimeout(r, 25));
  }
  return { port, pid: p.child.pid!, recordingsDir, logs: p.logs, stop: p.stop };
}

/** Starts `teamssh upload` on `recordingsDir` against the fakes; returns a stop function. */
export async function startUploaderCli(o: { dir: string; recordingsDir: string; fakes: Fakes; account: string }): Promise<{ pid: number; tail: () => string; stop: () => Promise<void> }> {
  const env = teamsshEnv({ ...o, logLevel: 'warn' });
  const p = spawnCli(['upload'], env, []);
  return { pid: p.child.pid!, tail: p.tail, stop: p.stop };
}
