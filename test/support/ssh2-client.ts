import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { waitFor } from './poll.js';
import type { ClientKey } from './teamssh.js';

/** Connects the ssh2 client to 127.0.0.1:port as `user` with `key`. */
export function connect(port: number, user: string, key: ClientKey): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({ host: '127.0.0.1', port, username: user, privateKey: readFileSync(key.path), readyTimeout: 15_000 });
  });
}

/** An open channel plus everything it has produced so far. */
export interface Opened {
  channel: ssh2.ClientChannel;
  out(): string;
  err(): string;
  /** Resolves with the exit status or signal once the channel closes. */
  exit: Promise<{ code: number | null; signal: string | null }>;
  /** Resolves once stdout contains `text`. */
  waitFor(text: string | RegExp, ms?: number): Promise<string>;
}

function wrap(channel: ssh2.ClientChannel): Opened {
  let out = '';
  let err = '';
  let code: number | null = null;
  let signal: string | null = null;
  channel.on('data', (d: Buffer) => (out += d.toString('utf8')));
  channel.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  channel.on('exit', (c: number | null, s?: string) => {
    code = c;
    signal = s ?? null;
  });
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) => channel.on('close', () => r({ code, signal })));
  return {
    channel,
    out: () => out,
    err: () => err,
    exit,
    waitFor: (text, ms = 10_000) =>
      waitFor(() => (typeof text === 'string' ? out.includes(text) : text.test(out)), {
        timeoutMs: ms,
        what: `${String(text)} in the output`,
        detail: () => `output ends ${JSON.stringify(out.slice(-500))}`,
      }).then(() => out),
  };
}

/** Opens an exec channel (`pty` optional). */
export function exec(c: ssh2.Client, command: string, opts: ssh2.ExecOptions = {}): Promise<Opened> {
  return new Promise((resolve, reject) => c.exec(command, opts, (err, ch) => (err ? reject(err) : resolve(wrap(ch)))));
}

/** Opens an interactive shell with a pty of the given size. */
export function shell(c: ssh2.Client, win: ssh2.PseudoTtyOptions = { rows: 24, cols: 80, term: 'xterm-256color' }, env?: Record<string, string>): Promise<Opened> {
  return new Promise((resolve, reject) => c.shell(win, env ? { env } : {}, (err, ch) => (err ? reject(err) : resolve(wrap(ch)))));
}
