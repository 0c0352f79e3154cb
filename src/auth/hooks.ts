import { spawn } from 'node:child_process';
import type { Logger } from '../log.js';
import { filterHookEnv } from '../launch/env.js';
import { keyLine } from './verify.js';
import type { AuthDecision, AuthRequest, IdentitySource } from './types.js';

/** Hook settings taken from the configuration. */
export interface HookOptions {
  timeoutMs: number;
  /** PATH given to hooks; they never see the server's environment (tokens live there). */
  path: string;
  logger: Logger;
}

const ENV_LINE = /^([^=\s]+)=(.*)$/;
const MAX_OUTPUT = 64 * 1024;

/**
 * Each configured auth hook as an identity source (contract: handlers/README.md), asked in
 * order once the signature proved possession. Exit 0 allows, and the `KEY=value` lines of its
 * stdout join the session environment (filtered here, once; refused names are logged). Exit 1
 * denies; anything else, a crash or a timeout is *unavailable*, which refuses too: a broken
 * hook never lets anyone in.
 */
export function hookSources(programs: readonly string[], opts: HookOptions): IdentitySource[] {
  return programs.map((program) => ({ name: program, stage: 'login', decide: (req) => runHook(program, opts, req) }));
}

function runHook(program: string, opts: HookOptions, req: AuthRequest): Promise<AuthDecision> {
  const granted = req.granted;
  if (!granted) return Promise.resolve({ kind: 'unavailable', reason: 'hook_unavailable', detail: 'asked before any identity source allowed' });
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const done = (r: AuthDecision) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const line = keyLine(req.key);
    const child = spawn(program, [granted.login, line, req.fingerprint], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: opts.path,
        TEAMSSH_GITHUB_LOGIN: granted.login,
        TEAMSSH_KEY: line,
        TEAMSSH_KEY_FINGERPRINT: req.fingerprint,
        TEAMSSH_TEAMS: granted.teams.join(','),
        TEAMSSH_REMOTE_ADDR: req.remoteAddress,
      },
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ kind: 'unavailable', reason: 'hook_unavailable', detail: `timed out after ${opts.timeoutMs} ms` });
    }, opts.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1024) stderr += d;
    });
    child.on('error', (err) => done({ kind: 'unavailable', reason: 'hook_unavailable', detail: `cannot run: ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    child.on('close', (code, signal) => {
      const message = stderr.trim().split('\n')[0]?.slice(0, 200) ?? '';
      if (code === 0) {
        const { env, refused } = filterHookEnv(parseEnvLines(stdout));
        // Names only: values may be secrets.
        if (refused.length) opts.logger.warn({ event: 'env_refused', source: 'hook', hook: program, names: refused }, 'auth hook variables refused');
        done({ kind: 'allow', login: granted.login, teams: [...granted.teams], stale: false, env });
      } else if (code === 1) done({ kind: 'deny', reason: 'hook_denied', detail: message });
      else done({ kind: 'unavailable', reason: 'hook_unavailable', detail: signal ? `killed by ${signal}` : `exit status ${code}${message ? `: ${message}` : ''}` });
    });
  });
}

/** Takes the `KEY=value` lines of a hook's stdout as a record; other lines are ignored so hooks may print notes. */
function parseEnvLines(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = ENV_LINE.exec(line.replace(/\r$/, ''));
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}
