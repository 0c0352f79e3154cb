import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths pino blanks out wherever they appear: tokens and key material never reach the log. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'githubToken',
  '*.githubToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'installId',
  '*.installId',
  'privateKey',
  '*.privateKey',
  'keyLine',
  '*.keyLine',
  'webhookSecret',
  '*.webhookSecret',
  'metricsToken',
  '*.metricsToken',
  'secret',
  '*.secret',
];

/** Options for the one process-wide logger. */
export interface LogOptions {
  level: string;
  /** Optional extra file that receives the same JSON lines as stdout (append). */
  file?: string | undefined;
  /** Test hook: write here instead of stdout. */
  destination?: DestinationStream;
}

/** Builds the process logger: JSON lines on stdout (and optionally a file), secrets redacted. */
export function createLogger(opts: LogOptions): Logger {
  const base = {
    level: opts.level,
    base: { service: 'teamssh' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (opts.destination) return pino(base, opts.destination);
  if (!opts.file) return pino(base, pino.destination({ fd: 1, sync: false }));
  const streams = pino.multistream([
    { level: opts.level as pino.Level, stream: pino.destination({ fd: 1, sync: false }) },
    { level: opts.level as pino.Level, stream: pino.destination({ dest: opts.file, append: true, mkdir: true, sync: false }) },
  ]);
  return pino(base, streams);
}

/** A logger that drops everything, for unit tests and tools that have none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
