import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeAsciinema, type FakeAsciinemaOptions } from '../fakes/asciinema-server.js';
import { startUploader, type UploaderHandle, type UploaderOptions } from '../../src/upload/uploader.js';
import { captureLog, type CapturedLog } from './log-capture.js';

/**
 * One uploader test's world: a temp recordings dir and state dir, a fake asciinema server and
 * options with fast backoff. `start()` runs an uploader in this process with a capturing logger.
 */
export interface UploadWorld {
  root: string;
  dir: string;
  stateDir: string;
  fake: FakeAsciinema;
  log: CapturedLog;
  options(over?: Partial<UploaderOptions>): UploaderOptions;
  start(over?: Partial<UploaderOptions>): Promise<UploaderHandle>;
  /** Stops every uploader started here and the fake, and removes the temp dirs. */
  close(): Promise<void>;
}

/** Fast test backoff: retries within tens of milliseconds, 401 probes every 300 ms. */
export const FAST_BACKOFF = { baseMs: 20, maxMs: 200, unauthorizedMs: 300 };

/** Builds a world; the fake is started. */
export async function uploadWorld(fakeOpts: FakeAsciinemaOptions = {}): Promise<UploadWorld> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-upload-'));
  const dir = path.join(root, 'recordings');
  const stateDir = path.join(root, 'state');
  await fs.mkdir(dir, { recursive: true });
  const fake = new FakeAsciinema(fakeOpts);
  await fake.start();
  const log = captureLog();
  const handles: UploaderHandle[] = [];
  const options = (over: Partial<UploaderOptions> = {}): UploaderOptions => ({
    dir, stateDir, serverUrl: fake.baseUrl, username: '', visibility: 'private', allowPublicServer: false,
    concurrency: 4, maxBytes: 8_000_000, keepUploaded: true, requestTimeoutMs: 5000, version: '0.1.0-test',
    logger: log.logger, backoff: FAST_BACKOFF, stopGraceMs: 500, rescanMs: 500, ...over,
  });
  return {
    root, dir, stateDir, fake, log, options,
    async start(over) {
      const h = await startUploader(options(over));
      handles.push(h);
      return h;
    },
    async close() {
      for (const h of handles) await h.stop();
      await fake.stop();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
