import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './poll.js';

/** `teamssh serve` as a real child process, as an operator runs it. */
export interface Child {
  proc: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node dist/src/cli.js serve` with exactly `env` (plus PATH) and waits until it listens.
 * `detached`: the server leads a session of its own, as systemd starts services.
 */
export async function serve(env: Record<string, string>, opts: { detached?: boolean } = {}): Promise<Child> {
  const proc = spawn(process.execPath, ['dist/src/cli.js', 'serve'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const listening = await waitFor(
    () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`server exited (${proc.exitCode ?? proc.signalCode}) before it listened:\n${out}`);
      return /"event":"listening".*?"port":(\d+)/.exec(out);
    },
    { timeoutMs: 15_000, intervalMs: 50, what: 'the server to listen', detail: () => `output so far:\n${out}` },
  );
  return { proc, port: Number(listening[1]), output: () => out, exited };
}

