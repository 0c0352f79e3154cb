import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { TeamsshError } from '../errors.js';
import { loadInstallId } from './install-id.js';
import { connectUrl } from '../config/upload-target.js';
import { UploadClient } from './client.js';
import { UploadGate } from './upload-gate.js';
import { Claims } from './claims.js';
import { removeParts, removeUploaderLeftovers } from './leftovers.js';
import { RecordingsWatcher } from './watch.js';
import { WorkQueue } from './queue.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { shipRecording, type JobContext } from './job.js';
import type { SigningKey } from '../recording/signing-key.js';
import { metrics } from '../metrics/metrics.js';
import { setUploadPaused, watchRecordingsDir } from '../metrics/live-gauges.js';


/**
 * The uploader: watches the recordings directory (the queue) and ships every finished
 * `*.cast` to the asciinema server, including the backlog left from before a restart and
 * recordings a dead uploader had claimed. See job.ts for one recording's path, claims.ts for
 * how two uploaders share a directory.
 */

/** Settings of one uploader. */
export interface UploaderOptions {
  dir: string;
  stateDir: string;
  /** Empty: uploads are off and recordings stay in `dir`. */
  serverUrl: string;
  installId?: string;
  username: string;
  visibility: 'private' | 'unlisted' | 'public';
  allowPublicServer: boolean;
  concurrency: number;
  maxBytes: number;
  keepUploaded: boolean;
  requestTimeoutMs: number;
  version: string;
  logger: Logger;
  backoff?: BackoffOptions;
  /** How long uploads in flight may finish after stop() before they are aborted (default 5 s). */
  stopGraceMs?: number;
  /** How often the directory is rescanned for missed files and dead uploaders' claims (default 30 s). */
  rescanMs?: number;
  /** Checks recordings' signatures and signs split parts (see upload-signature.ts); absent: uploads go unsigned. */
  signingKey?: SigningKey;
  /** A claim whose heartbeat is older than this is taken over even if its pid looks alive (default 10 min). */
  claimStaleMs?: number;
}

/** A running uploader. */
export interface UploaderHandle {
  /** Stops watching, lets uploads in flight finish within the grace, aborts the rest and releases their claims. */
  stop(): Promise<void>;
  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void>;
  /** The page that attaches this install id's recordings to an account ('' when uploads are off). */
  connectUrl: string;
}

const isCast = (name: string) => name.endsWith('.cast');

/** Starts the uploader; with no server it logs that uploads are off and returns a handle that does nothing. */
export async function startUploader(opts: UploaderOptions): Promise<UploaderHandle> {
  // The caller's logger carries the component binding (see start-configured.ts).
  const log = opts.logger;
  if (!opts.serverUrl) {
    log.warn({ event: 'upload_disabled', dir: opts.dir }, `no asciinema server configured (ASCIINEMA_SERVER_URL): uploading is off, recordings stay in ${opts.dir}`);
    return { stop: async () => undefined, idle: async () => undefined, connectUrl: '' };
  }
  // The target, username and size limit were validated once, with the configuration (src/config/load.ts).
  const installId = await loadInstallId(opts.stateDir, opts.installId);
  const dir = path.resolve(opts.dir);
  await fs.mkdir(dir, { recursive: true });
  const link = connectUrl(opts.serverUrl, installId);
  // The one log line that carries the install id: the operator needs this link.
  log.info({ event: 'upload_connect', connectUrl: link }, `uploading recordings to ${new URL(opts.serverUrl).origin}; to attach them to your account open ${link} while logged in (unattached recordings may be deleted: after 7 days on asciinema.org)`);

  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const soft = new AbortController();
  const hard = new AbortController();
  const client = new UploadClient({ serverUrl: opts.serverUrl, installId, username: opts.username, version: opts.version, requestTimeoutMs: opts.requestTimeoutMs });
  const gate = new UploadGate(log, backoff.unauthorizedMs);
  const staleMs = opts.claimStaleMs ?? 10 * 60_000;
  const claims = new Claims(dir, staleMs);
  // Once, at start: every crash of an uploader is followed by a start of one (its own restart
  // at least), and uploaded/ can hold every recording ever made: 100,000 entries there took
  // ~190 ms of CPU to sweep (three runs, busy machine), too much to repeat every 30 s rescan.
  await removeUploaderLeftovers(dir, staleMs, log);
  const ctx: JobContext = {
    dir, client, gate, log, backoff,
    maxBytes: opts.maxBytes, visibility: opts.visibility, keepUploaded: opts.keepUploaded,
    soft: soft.signal, hard: hard.signal,
    connectHint: 'check the install id, or open the connect link logged at start to attach it to an account',
    signingKey: opts.signingKey,
  };

  // After a local error the recording is released (it must stay NAME.cast) and rests a while:
  // the watcher sees it again at once, and without a rest a persistent error would spin.
  const resting = new Map<string, number>();
  const localRetryMs = Math.min(backoff.maxMs, 30_000);
  const queue: WorkQueue = new WorkQueue(Math.max(1, opts.concurrency), async (base, file) => {
    const until = resting.get(base) ?? 0;
    if (Date.now() < until) return queue.later(base, file, until - Date.now());
    resting.delete(base);
    try {
      const fresh = isCast(file);
      const claimed = fresh ? await claims.claim(base) : await claims.takeOver(file);
      if (!claimed) return; // another uploader has it, or it is gone
      // Only a dead uploader's claim can have parts behind it: a stopped or failed upload
      // removes its own (job.ts), so a fresh claim costs no look at .parts/.
      if (!fresh) await removeParts(dir, base, log);
      const timer = metrics.uploadDuration.startTimer();
      const result = await shipRecording(ctx, base, claimed);
      if (result === 'uploaded') timer();
      metrics.uploads.inc({ result: result === 'uploaded' ? 'uploaded' : 'rejected' });
      claims.forget(base);
    } catch (err) {
      await claims.release(base);
      if (soft.signal.aborted) return;
      resting.set(base, Date.now() + localRetryMs);
      log.error({ recording: base, code: 'ERR_UPLOAD_LOCAL', err, retryInMs: localRetryMs }, 'could not process the recording; it stays in the directory and is retried');
      queue.later(base, `${base}.cast`, localRetryMs);
    }
  });

  const watcher = new RecordingsWatcher(dir, queue, claims, log, opts.rescanMs ?? 30_000);
  await watcher.start();
  const unwatch = watchRecordingsDir(dir);

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    await watcher.close();
    soft.abort(new TeamsshError('ERR_UPLOAD_STOPPED', 'uploader stopped'));
    const grace = setTimeout(() => hard.abort(new TeamsshError('ERR_UPLOAD_STOPPED', 'uploader stopped')), opts.stopGraceMs ?? 5000);
    await queue.stop();
    clearTimeout(grace);
    hard.abort();
    claims.close();
    await client.close();
    unwatch();
    setUploadPaused(gate, false);
    log.info({ event: 'upload_stopped' }, 'uploader stopped; recordings not uploaded stay in the directory for the next start');
  };
  return {
    stop: () => (stopping ??= stop()),
    idle: () => queue.idle(),
    connectUrl: link,
  };
}
