import { buildSessionEnv } from '../../src/launch/env.js';
import type { Account } from '../../src/launch/account.js';
import type { ExitInfo, Program } from '../../src/launch/program.js';
import { waitFor } from './poll.js';

/** What a test sees of a running session: its output so far and its exit. */
export interface Observed {
  stdout(): string;
  stderr(): string;
  exited: Promise<ExitInfo>;
  /** Resolves with all stdout so far once `pattern` appears in it; rejects after `ms`. */
  waitFor(pattern: string | RegExp, ms?: number): Promise<string>;
}

/** Attaches to a session's output and exit, for assertions. */
export function observe(p: Program): Observed {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  p.onStdout((b) => out.push(b));
  p.onStderr((b) => err.push(b));
  const exited = new Promise<ExitInfo>((resolve) => p.onExit(resolve));
  const stdout = () => Buffer.concat(out).toString('utf8');
  return {
    stdout,
    stderr: () => Buffer.concat(err).toString('utf8'),
    exited,
    waitFor: (pattern, ms = 5000) =>
      waitFor(() => (typeof pattern === 'string' ? stdout().includes(pattern) : pattern.test(stdout())), {
        timeoutMs: ms,
        what: String(pattern),
        detail: () => `output so far: ${JSON.stringify(stdout())}`,
      }).then(stdout),
  };
}

/** A session environment as the session layer would build it, with fixed test values. */
export function testEnv(account: Account, extra: { term?: string; command?: string } = {}): Record<string, string> {
  return buildSessionEnv({
    account,
    path: '/usr/local/bin:/usr/bin:/bin',
    term: extra.term,
    command: extra.command,
    connection: { remoteAddress: '127.0.0.1', remotePort: 50000, localAddress: '127.0.0.1', localPort: 2222 },
    githubLogin: 'octocat',
    sessionId: 'test-session',
  }).env;
}
