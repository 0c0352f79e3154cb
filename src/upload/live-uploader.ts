import type { LiveConfig } from '../config/live.js';
import { SETTINGS } from '../config/settings.js';
import type { Logger } from '../log.js';
import { showUploadMetrics } from '../metrics/metrics.js';
import { startConfiguredUploader } from './start-configured.js';
import type { UploaderHandle } from './uploader.js';

// Environment names of the upload settings: a reload that changes one restarts the uploader.
const UPLOAD_SETTINGS = new Set(SETTINGS.filter((s) => s.path.startsWith('upload.')).map((s) => s.env));

/** The in-process uploader of `teamssh serve`, following reloads. */
export interface LiveUploader {
  stop(): Promise<void>;
}

/**
 * Runs the configured uploader (when `upload.enabled`) and, when a reload changes an upload
 * setting, stops it and starts it again with the new settings. Its claims and the recordings
 * directory make that safe: uploads in flight finish (or are released) by the old one, and
 * the new one picks up what is left. Restarts run one at a time, in order.
 */
export async function startLiveUploader(live: LiveConfig, logger: Logger): Promise<LiveUploader> {
  const begin = async (): Promise<UploaderHandle | undefined> => {
    showUploadMetrics(live.current.upload.enabled);
    if (live.current.upload.enabled) return startConfiguredUploader(live.current, logger);
    logger.info({ event: 'uploader_disabled' }, 'uploader disabled here; run `teamssh upload` to ship recordings');
    return undefined;
  };
  let current = await begin();
  let stopped = false;
  let chain = Promise.resolve();
  live.onChange((_config, change) => {
    if (!change.applied.some((name) => UPLOAD_SETTINGS.has(name))) return;
    chain = chain.then(async () => {
      if (stopped) return;
      await current?.stop();
      current = undefined;
      current = await begin();
    }).catch((err: unknown) => logger.error({ event: 'reload_failed', code: 'ERR_UPLOAD_RESTART', err }, 'restarting the uploader after a reload failed; uploads are off until the next reload or restart'));
  });
  return {
    stop: async () => {
      stopped = true;
      await chain;
      await current?.stop();
    },
  };
}
