import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

/** Captures pino JSON lines so tests can assert on audit events. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      this.raw.push(line);
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not JSON: ignore */
      }
    }
    cb();
  }
  /** Events named `event`. */
  events(event: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.event === event);
  }
  /** Resolves with the first event matching, waiting up to `ms`. */
  async waitFor(event: string, pred: (l: Record<string, unknown>) => boolean = () => true, ms = 10_000): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.events(event).find(pred);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`no ${event} event within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * A real pino logger (same redaction as production) whose JSON lines are kept in memory, so
 * tests can assert on what an operator would see, e.g. that a message is logged once.
 */
export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** The raw text of everything logged, for "never appears" checks. */
  text(): string;
}

/** Builds a capturing logger at `level` (default debug). */
export function captureLog(level = 'debug'): CapturedLog {
  const capture = new LogCapture();
  return { logger: createLogger({ level, destination: capture }), lines: capture.lines, text: () => capture.raw.join('\n') };
}
