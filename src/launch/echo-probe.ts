import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the probe (src/launch/echo-probe.c): dist/teamssh-echo-probe, seen from dist/src/launch/. */
export const DEFAULT_ECHO_PROBE_PATH = fileURLToPath(new URL('../../teamssh-echo-probe', import.meta.url));

/**
 * Asks whether a pty echoes typed input (termios ECHO), through one long-lived helper
 * process (src/launch/echo-probe.c): Node cannot call tcgetattr, and spawning `stty -F`
 * for each keystroke costs ~17 ms against ~0.2 ms for a round trip to the helper. Every
 * doubt answers "off": an unreadable terminal, a helper that is missing, died or is slow.
 */
export class EchoProbe {
  private child: ChildProcessWithoutNullStreams | null = null;
  private waiting: Array<(on: boolean) => void> = [];

  constructor(
    private readonly file = DEFAULT_ECHO_PROBE_PATH,
    private readonly timeoutMs = 1000,
  ) {}

  /** Resolves true only when the terminal at `tty` (a /dev/pts path) has ECHO on right now. */
  echoOn(tty: string): Promise<boolean> {
    const child = this.start();
    if (!child) return Promise.resolve(false);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (on: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(on);
      };
      const timer = setTimeout(() => settle(false), this.timeoutMs);
      // A late answer still takes its own slot, so the answers stay paired with their questions.
      this.waiting.push(settle);
      child.stdin.write(`${tty}\n`);
    });
  }

  /** Stops the helper; pending questions answer "off". */
  close(): void {
    this.child?.stdin.end();
    this.child = null;
    this.failAll();
  }

  private start(): ChildProcessWithoutNullStreams | null {
    if (this.child) return this.child;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(this.file, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch {
      return null;
    }
    const lost = () => {
      if (this.child === child) this.child = null;
      this.failAll();
    };
    child.on('error', lost).on('exit', lost);
    child.stdin.on('error', lost);
    child.stderr.resume();
    createInterface({ input: child.stdout }).on('line', (line) => this.waiting.shift()?.(line === '1'));
    // The helper must never keep the server running.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ unref?: () => void }>) s.unref?.();
    this.child = child;
    return child;
  }

  private failAll(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w(false);
  }
}

let shared: EchoProbe | undefined;

/** The server's one probe helper, started on first use. */
export function sharedEchoProbe(): EchoProbe {
  return (shared ??= new EchoProbe());
}
