import { createLogger, type Logger } from '../../src/log.js';

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
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const destination = {
    write(s: string) {
      raw.push(s);
      for (const l of s.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
    },
  };
  return { logger: createLogger({ level, destination }), lines, text: () => raw.join('') };
}
