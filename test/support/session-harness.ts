import { buildSessionEnv } from '../../src/launch/env.js';
import type { Account } from '../../src/launch/account.js';
import type { ExitInfo, Program } from '../../src/launch/program.js';

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
    async waitFor(pattern, ms = 5000) {
      const until = Date.now() + ms;
      for (;;) {
        const text = stdout();
        if (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) return text;
        if (Date.now() > until) throw new Error(`timed out waiting for ${String(pattern)}; output so far: ${JSON.stringify(text)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
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

/** Waits until `pred` holds, polling; rejects with `what` after `ms`. */
export async function eventually(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
