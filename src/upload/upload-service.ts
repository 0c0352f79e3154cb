import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { startHttpListener, type HttpListener } from '../http/listener.js';
import { healthRoutes, uploaderReadiness } from '../health/readiness.js';
import { metricsRoute } from '../metrics/metrics-route.js';
import { uploaderRegistry } from '../metrics/metrics.js';
import { uploadPaused } from '../metrics/live-gauges.js';
import { startConfiguredUploader } from './start-configured.js';

/** `teamssh upload` running: the uploader and, when asked for, its own HTTP listener. */
export interface UploadService {
  /** Where `/metrics`, `/healthz` and `/readyz` are served (the real port when asked for port 0); undefined without TEAMSSH_UPLOAD_HTTP_LISTEN. */
  httpAddress: { host: string; port: number } | undefined;
  /** Graceful stop (SIGTERM): not ready first, then the uploader stops (uploads in flight finish or are released), then the listener closes. */
  stop(): Promise<void>;
}

/**
 * Starts the split uploader (the Procfile's `uploader:` process) with the listener the server
 * has, on an address of its own (TEAMSSH_UPLOAD_HTTP_LISTEN): the same routes and token rule,
 * but the uploader's registry and readiness, since it has no SSH port, sessions or GitHub.
 * Without a server URL nothing starts (undefined), as before. The configuration is read once:
 * a split uploader applies changes at a restart, SIGHUP changes nothing.
 */
export async function startUploadService(config: Config, logger: Logger): Promise<UploadService | undefined> {
  const uploader = await startConfiguredUploader(config, logger);
  if (!uploader) return undefined;
  const readiness = uploaderReadiness({ recordingsDir: config.recordings.dir, uploadPaused });
  let http: HttpListener | undefined;
  if (config.upload.httpListen) {
    const routes = [metricsRoute({ token: config.http.metricsToken, registry: uploaderRegistry }), ...healthRoutes(readiness)];
    // A port that cannot be bound fails the start; the recordings claimed meanwhile are released.
    http = await startHttpListener(config.upload.httpListen, routes, logger.child({ component: 'http' })).catch(async (err: unknown) => {
      await uploader.stop();
      throw err;
    });
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      readiness.drain();
      await uploader.stop();
      await http?.close();
    })());
  return { httpAddress: http?.address, stop };
}
