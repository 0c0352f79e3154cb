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
  const file = pino.destination({ dest: opts.file, append: true, mkdir: true, sync: false });
  // The streams take everything: the logger's own level filters, so a reload can change it.
  const streams = pino.multistream([
    { level: 'trace', stream: pino.destination({ fd: 1, sync: false }) },
    { level: 'trace', stream: file },
  ]);
  const logger = pino(base, streams);
  logFiles.set(logger, file);
  return logger;
}

// The log file's stream per process logger, for reopening it after logrotate moved it.
const logFiles = new WeakMap<Logger, ReturnType<typeof pino.destination>>();

/**
 * Reopens the logger's TEAMSSH_LOG_FILE at its path (logrotate's convention on SIGHUP: the
 * old file was renamed away, lines go to a new one). Returns false when there is no file.
 * The reopen completes asynchronously; a failure goes to `onError` instead of ending the process.
 */
export function reopenLogFile(logger: Logger, onError: (err: Error) => void): boolean {
  const file = logFiles.get(logger);
  if (!file) return false;
  const failed = (err: Error) => {
    file.off('ready', opened);
    onError(err);
  };
  const opened = () => file.off('error', failed);
  file.once('error', failed).once('ready', opened);
  file.reopen();
  return true;
}

/** A logger that drops everything, for unit tests and tools that have none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
