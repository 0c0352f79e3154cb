import { createLogger } from '../../src/log.js';
import { startUploader, type UploaderOptions } from '../../src/upload/uploader.js';
import { killAtRename } from './kill-at-rename.js';

/**
 * Runs one uploader in its own process for tests that kill it (kill -9) or run two at once.
 * Usage: node dist/test/support/run-uploader.js '<json UploaderOptions without logger>' [PATTERN]:
 * with PATTERN it dies (SIGKILL) at the first rename of a file whose name matches.
 * Logs JSON lines on stdout; prints {"ready":true} once started; SIGTERM stops it cleanly.
 */
const opts = JSON.parse(process.argv[2] ?? '{}') as Omit<UploaderOptions, 'logger'>;
if (process.argv[3]) killAtRename(new RegExp(process.argv[3]));
const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void process.stdout.write(s) } });
const handle = await startUploader({ ...opts, logger });
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
process.on('SIGTERM', () => {
  void handle.stop().then(() => process.exit(0));
});
