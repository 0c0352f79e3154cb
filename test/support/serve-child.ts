import { spawn, type ChildProcess } from 'node:child_process';

/** `teamssh serve` as a real child process, as an operator runs it. */
export interface Child {
  proc: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node dist/src/cli.js serve` with exactly `env` (plus PATH) and waits until it listens. */
export async function serve(env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, ['dist/src/cli.js', 'serve'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const end = Date.now() + 15_000;
  for (;;) {
    const m = /"event":"listening".*?"port":(\d+)/.exec(out);
    if (m) return { proc, port: Number(m[1]), output: () => out, exited };
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

