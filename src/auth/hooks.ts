import { spawn } from 'node:child_process';

/** What the auth hooks decided, in the three states every auth answer has. */
export type HookResult =
  | { kind: 'allow'; env: Record<string, string> }
  | { kind: 'deny'; hook: string; message: string }
  | { kind: 'unavailable'; hook: string; message: string };

/** What a hook is told about the login it is asked to judge. */
export interface HookRequest {
  login: string;
  keyLine: string;
  fingerprint: string;
  teams: string[];
  remoteAddress: string;
}

/** Hook settings taken from the configuration. */
export interface HookOptions {
  programs: readonly string[];
  timeoutMs: number;
  /** PATH given to hooks; they never see the server's environment (tokens live there). */
  path: string;
}

const ENV_LINE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
const MAX_OUTPUT = 64 * 1024;

/**
 * Runs the configured auth hooks in order (contract: handlers/README.md). Every hook must
 * exit 0 for the login to be allowed; the `KEY=value` lines of their stdout are merged
 * into the session environment. Exit 1 denies; anything else, a crash or a timeout is
 * *unavailable*, which refuses too: a broken hook never lets anyone in.
 */
export async function runAuthHooks(opts: HookOptions, req: HookRequest): Promise<HookResult> {
  const env: Record<string, string> = {};
  for (const program of opts.programs) {
    const r = await runOne(program, opts, req);
    if (r.kind !== 'allow') return r;
    Object.assign(env, r.env);
  }
  return { kind: 'allow', env };
}

function runOne(program: string, opts: HookOptions, req: HookRequest): Promise<HookResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const done = (r: HookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn(program, [req.login, req.keyLine, req.fingerprint], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: opts.path,
        TEAMSSH_GITHUB_LOGIN: req.login,
        TEAMSSH_KEY: req.keyLine,
        TEAMSSH_KEY_FINGERPRINT: req.fingerprint,
        TEAMSSH_TEAMS: req.teams.join(','),
        TEAMSSH_REMOTE_ADDR: req.remoteAddress,
      },
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ kind: 'unavailable', hook: program, message: `timed out after ${opts.timeoutMs} ms` });
    }, opts.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1024) stderr += d;
    });
    child.on('error', (err) => done({ kind: 'unavailable', hook: program, message: `cannot run: ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    child.on('close', (code, signal) => {
      const message = stderr.trim().split('\n')[0]?.slice(0, 200) ?? '';
      if (code === 0) done({ kind: 'allow', env: parseEnv(stdout) });
      else if (code === 1) done({ kind: 'deny', hook: program, message });
      else done({ kind: 'unavailable', hook: program, message: signal ? `killed by ${signal}` : `exit status ${code}${message ? `: ${message}` : ''}` });
    });
  });
}

/** Takes the `KEY=value` lines of a hook's stdout; other lines are ignored so hooks may print notes. */
export function parseEnv(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = ENV_LINE.exec(line.replace(/\r$/, ''));
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}
