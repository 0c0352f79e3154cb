import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';
import { waitFor } from './poll.js';

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
  waitFor(event: string, pred: (l: Record<string, unknown>) => boolean = () => true, ms = 10_000): Promise<Record<string, unknown>> {
    return waitFor(() => this.events(event).find(pred), { timeoutMs: ms, what: `a matching ${event} event`, detail: () => `${this.events(event).length} ${event} events that did not match` });
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
