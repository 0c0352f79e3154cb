import type { ChildProcess } from 'node:child_process';

/**
 * Ties a server child to the bench: it is SIGKILLed if the bench exits, and the returned
 * `stop` sends SIGTERM, then SIGKILL after `killAfterMs`, and resolves once it is gone.
 */
export function ownChild(child: ChildProcess, killAfterMs: number): () => Promise<void> {
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return async () => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await gone;
    clearTimeout(timer);
  };
}
