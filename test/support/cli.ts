import { execFile } from 'node:child_process';

/** What one run of the teamssh command did. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `teamssh` command with only PATH and `env` in its environment; `timeoutMs` kills (SIGKILL) one that should have exited by itself. */
export function cli(args: string[], env: Record<string, string> = {}, opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) =>
    execFile(process.execPath, ['dist/src/cli.js', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: opts.timeoutMs ?? 0, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}
