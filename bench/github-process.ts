import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FakeGitHub } from '../test/fakes/github.js';
import type { WebhookSender } from '../test/fakes/github-webhooks.js';
import { ownChild } from './child.js';
import { raiseServerPriority } from '../src/launch/priority.js';

/**
 * The fake GitHub in a process of its own. In the bench process it would answer teamssh's
 * re-checks between the events of every SSH client the bench runs, and the revocation figures
 * would measure that queue instead of teamssh. One JSON line per command on stdin, one answer
 * per line on stdout.
 *
 * It also runs at teamssh's priority, in a session (autogroup) of its own: GitHub sends its
 * webhooks from its own machines, but here the fake shares two cores with teamssh (raised
 * 10 nice levels, docs/priority.md), the sessions being ended and the bench's SSH clients.
 * At normal priority, 25 deliveries stamped `sentAt` within 20 ms went on the wire 96 to
 * 190 ms later when the burst followed the one-at-a-time removals at once (bench/README.md,
 * "Revocation"): the figure measured the fake waiting for a CPU.
 */

/** A delivery as the revocation bench needs it. */
export interface SentDelivery {
  login: string | undefined;
  sentAt: number;
  status: number;
}

type Command =
  | { cmd: 'user'; login: string; key: string }
  | { cmd: 'hook'; url: string; secret: string }
  | { cmd: 'remove'; logins: string[] }
  | { cmd: 'resetLog' }
  | { cmd: 'counts' };

/** Runs as the child: `node github-process.js child TOKEN`. */
async function child(token: string): Promise<void> {
  raiseServerPriority(10);
  const gh = new FakeGitHub({ org: 'acme', token });
  gh.addTeam('ops');
  let hook: WebhookSender | undefined;
  const url = await gh.start();
  const say = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  say({ url });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const c = JSON.parse(line) as Command;
    if (c.cmd === 'user') gh.addUser(c.login, { keys: [c.key] }).addMember('ops', c.login);
    else if (c.cmd === 'hook') hook = gh.hook(c.url, c.secret);
    else if (c.cmd === 'resetLog') gh.resetLog();
    else if (c.cmd === 'counts') {
      say({ total: gh.total, notModified: gh.notModified });
      continue;
    } else {
      for (const login of c.logins) gh.removeMember('ops', login);
      const sent = (await hook?.settled()) ?? [];
      say(sent.map((d): SentDelivery => ({ login: (JSON.parse(d.body) as { member?: { login?: string } }).member?.login, sentAt: d.sentAt, status: d.status })));
      continue;
    }
    say({ ok: true });
  }
  await gh.stop();
}

/** The parent's handle on the child. */
export interface GitHubProcess {
  url: string;
  token: string;
  addUser(login: string, key: string): Promise<void>;
  hook(url: string, secret: string): Promise<void>;
  /** Removes the logins from the team at once; resolves with their webhook deliveries once answered. */
  remove(logins: string[]): Promise<SentDelivery[]>;
  resetLog(): Promise<void>;
  counts(): Promise<{ total: number; notModified: number }>;
  stop(): Promise<void>;
}

/** Starts the fake GitHub in its own process. */
export async function startGitHubProcess(token = 'ghp_benchtoken'): Promise<GitHubProcess> {
  const proc: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), 'child', token], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const stop = ownChild(proc, 2000);
  const lines = readline.createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async <T>(): Promise<T> => {
    const r = await lines.next();
    if (r.done) throw new Error('the fake GitHub process exited');
    return JSON.parse(r.value) as T;
  };
  const ask = async <T>(c: Command): Promise<T> => {
    proc.stdin!.write(`${JSON.stringify(c)}\n`);
    return next<T>();
  };
  const { url } = await next<{ url: string }>();
  return {
    url,
    token,
    addUser: async (login, key) => void (await ask({ cmd: 'user', login, key })),
    hook: async (u, secret) => void (await ask({ cmd: 'hook', url: u, secret })),
    remove: (logins) => ask<SentDelivery[]>({ cmd: 'remove', logins }),
    resetLog: async () => void (await ask({ cmd: 'resetLog' })),
    counts: () => ask({ cmd: 'counts' }),
    stop,
  };
}

if (process.argv[2] === 'child') await child(process.argv[3] ?? '');
