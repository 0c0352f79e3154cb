import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { startUploader, type UploaderHandle } from './uploader.js';
import { loadSigningKey } from '../recording/signing-key.js';

/**
 * Starts the uploader with the operator's configuration, or logs why it does not start:
 * with no server configured, recordings simply stay in the directory.
 */
export async function startConfiguredUploader(config: Config, logger: Logger): Promise<UploaderHandle | undefined> {
  const log = logger.child({ component: 'uploader' });
  const u = config.upload;
  if (!u.serverUrl) {
    log.warn({ event: 'uploader_disabled', dir: config.recordings.dir }, `no asciinema server configured (ASCIINEMA_SERVER_URL): recordings stay in ${config.recordings.dir}`);
    return undefined;
  }
  return startUploader({
    dir: config.recordings.dir,
    stateDir: config.stateDir,
    serverUrl: u.serverUrl,
    ...(u.installId ? { installId: u.installId } : {}),
    username: u.username,
    visibility: u.visibility,
    allowPublicServer: u.allowPublicServer,
    concurrency: u.concurrency,
    maxBytes: u.maxBytes,
    keepUploaded: u.keepUploaded,
    requestTimeoutMs: u.timeoutMs,
    version: VERSION,
    logger: log,
    // The same key as the server's: parts of a split recording are signed as they go up.
    signingKey: await loadSigningKey(config.signingKey),
  });
}
