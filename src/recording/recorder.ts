import { open, type FileHandle } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CastWriter } from './cast-writer.js';
import { fileCallsFor, type FileCalls } from './file-calls.js';
import { RecordedContent } from './recorded-content.js';
import type { RedactRule } from './redact-rules.js';
import { RecordingError } from './recording-error.js';
import { fsyncDir, liveDirOf, privateDir } from './recordings-dir.js';
import { partSidecarPath, sidecarPath, writeSidecar, type SessionFacts, type SessionOutcome } from './sidecar.js';
import { RecordingSigner, type SigningOptions } from './recording-signer.js';

/** What a recorder needs to know about one session; see docs/external-systems.md §3 for the header rules. */
export interface RecorderOptions {
  dir: string;
  /** File stem: the recording is written as live/NAME.cast.part and renamed to NAME.cast. */
  name: string;
  width: number;
  height: number;
  /** Integer unix seconds of the session start. */
  timestamp: number;
  command?: string;
  title: string;
  env: Record<string, string>;
  /** Typed input holds passwords, so "i" events are written only when this is true. */
  recordInput: boolean;
  /** Monotonic milliseconds; injectable so golden tests are deterministic. */
  clock?: () => number;
  /** Who the session is (login, team, fingerprint...): written to live/NAME.part.json at once so a crash still names them. */
  meta?: SessionFacts;
  /** Bytes waiting for the disk above which `needsDrain` turns true (default 4 MiB); 16x that fails the recording. */
  highWaterMark?: number;
  /** Signs the recording (checkpoint chain while written, NAME.cast.sig at the end); absent: unsigned. */
  signing?: SigningOptions | undefined;
  /** Redaction rules for output and input; absent or null: nothing is redacted. */
  redact?: readonly RedactRule[] | null;
  /** How the bookkeeping's small calls are made; default: as suits the directory's filesystem (src/recording/file-calls.ts). Tests cover both ways with it. */
  fileCalls?: FileCalls;
}

/** What `finish` hands back once NAME.cast and its sidecar NAME.json are durable. */
export interface FinishedRecording {
  castPath: string;
  sidecarPath: string;
  sha256: string;
  bytes: number;
  events: number;
  /** Matches per redaction rule (absent when redaction is off). */
  redactions?: Record<string, number>;
}

const DEFAULT_HIGH_WATER = 4 * 1024 * 1024;
const ENV_KEY = /^[A-Z0-9_]+$/;

/** Streams one session into an asciicast v2 file, buffered, and finalises it atomically with a sidecar. */
export class Recorder {
  readonly castPath: string;
  readonly partPath: string;
  readonly sidecarPath: string;
  readonly metaPath: string;
  private readonly dir: string;
  private readonly liveDir: string;
  private readonly fh: FileHandle;
  // How the bookkeeping's small calls are made (src/recording/file-calls.ts).
  private readonly calls: FileCalls;
  private readonly clock: () => number;
  private readonly recordInput: boolean;
  private readonly meta: SessionFacts | undefined;
  // Redaction and command markers sit between the session and the events (src/recording/recorded-content.ts).
  private readonly content: RecordedContent;
  // Batches, flushes and the write path (src/recording/cast-writer.ts); it holds the failure state.
  private readonly out: CastWriter;
  private closed = false;
  private signer: RecordingSigner | undefined;

  private constructor(opts: RecorderOptions, fh: FileHandle, calls: FileCalls, clock: () => number) {
    this.dir = opts.dir;
    this.liveDir = liveDirOf(opts.dir);
    this.castPath = join(opts.dir, `${opts.name}.cast`);
    this.partPath = join(this.liveDir, `${opts.name}.cast.part`);
    this.sidecarPath = sidecarPath(opts.dir, opts.name);
    this.metaPath = partSidecarPath(this.liveDir, opts.name);
    this.fh = fh;
    this.calls = calls;
    this.clock = clock;
    this.recordInput = opts.recordInput;
    this.meta = opts.meta;
    const out = new CastWriter(fh, clock, opts.highWaterMark ?? DEFAULT_HIGH_WATER);
    this.out = out;
    // Straight to the writer: no extra call per event on the pty path.
    this.content = new RecordedContent(opts.redact ?? null, (code, data, at) => out.event(code, data, at));
  }

  /** Opens live/NAME.cast.part (0600, exclusive) and writes the header; rejects with code ERR_REC_OPEN. */
  static async create(opts: RecorderOptions): Promise<Recorder> {
    const live = liveDirOf(opts.dir);
    const part = join(live, `${opts.name}.cast.part`);
    let fh: FileHandle;
    let calls: FileCalls;
    try {
      fh = await openPart(part, live);
      // After the open: it makes live/ when it is missing, and a missing directory cannot be examined.
      calls = opts.fileCalls ?? (await fileCallsFor(live));
    } catch (err) {
      throw new RecordingError('ERR_REC_OPEN', 'cannot open the session recording', err);
    }
    const rec = new Recorder(opts, fh, calls, opts.clock ?? (() => performance.now()));
    const header = Buffer.from(headerLine(opts), 'utf8');
    // The header, the signature chain and the early sidecar are independent files, so they are
    // written at once: when the calls go through libuv's threads, one after the other they were
    // six trips the login waited for in turn. Only a crash of this process needs the early
    // identity, and the page cache survives that: no fsync on the login path.
    const [written, signer, meta] = await Promise.allSettled([
      calls.write(fh.fd, header),
      opts.signing ? RecordingSigner.open(rec.castPath, live, opts.signing, calls, (err) => rec.out.fail(new RecordingError('ERR_REC_SIGN', 'cannot write the recording\'s signature chain', err))) : undefined,
      opts.meta ? writeSidecar(rec.metaPath, opts.meta, { durable: false, calls }) : undefined,
    ]);
    const failed = [written, signer, meta].find((r) => r.status === 'rejected');
    if (failed) {
      // A half-created recording holds no session data yet: removing it loses nothing.
      await fh.close().catch(() => {});
      await calls.unlink(part).catch(() => {});
      if (signer.status === 'fulfilled') await signer.value?.discard();
      if (meta.status === 'fulfilled' && opts.meta) await calls.unlink(rec.metaPath).catch(() => {});
      throw new RecordingError('ERR_REC_OPEN', 'cannot write the session recording', failed.reason);
    }
    rec.signer = signer.status === 'fulfilled' ? signer.value : undefined;
    rec.out.headerWritten(header, rec.signer);
    return rec;
  }

  /** Records terminal output ("o"); returns false when the session should pause until `drained()`. */
  output(data: Buffer | string): boolean {
    if (!this.closed) this.content.output(data, this.clock());
    return !this.needsDrain;
  }

  /** Records typed input ("i"), only when the recorder was created with recordInput. */
  input(data: Buffer | string): boolean {
    if (this.recordInput && !this.closed) this.content.input(data, this.clock());
    return !this.needsDrain;
  }

  /** Records a terminal resize ("r") as COLSxROWS, clamped to what the server accepts. */
  resize(cols: number, rows: number): void {
    this.out.event('r', `${clampSize(cols, 720, 80)}x${clampSize(rows, 200, 24)}`);
  }

  /** Records a marker ("m"), e.g. where an idle timeout or a policy notice happened. */
  marker(label: string): void {
    this.out.event('m', label);
  }

  /** Subscribes to a write failure mid-session; the session layer decides fail open or closed. */
  onError(cb: (err: Error) => void): void {
    this.out.onError(cb);
  }

  /**
   * True while more than highWaterMark bytes wait for the disk. The session layer should then
   * pause the pty and resume when `drained()` resolves; that keeps memory bounded when the disk
   * is slower than the terminal. After a failure this is false so a session never hangs on it.
   */
  get needsDrain(): boolean {
    return this.out.needsDrain;
  }

  /** Resolves once the backlog is below highWaterMark again (or the recorder has failed). */
  drained(): Promise<void> {
    return this.out.drained();
  }

  /** Flushes, fsyncs, writes the signature and the sidecar NAME.json, then renames live/NAME.cast.part to NAME.cast. */
  async finish(outcome?: SessionOutcome): Promise<FinishedRecording> {
    if (this.closed) throw new RecordingError('ERR_REC_FINISHED', 'recording already finished');
    this.content.end(this.clock());
    // The server rejects a recording with zero events (422).
    if (this.out.eventCount === 0) this.out.event('o', '');
    this.closed = true;
    try {
      await this.out.end();
      await this.fh.sync();
    } catch (err) {
      // The .part stays where it is: recoverPartials finalises it as incomplete later.
      await this.fh.close().catch(() => {});
      await this.signer?.abort();
      throw err instanceof RecordingError ? err : new RecordingError('ERR_REC_WRITE', 'cannot write the session recording', err);
    }
    await this.fh.close();
    const sha256 = this.out.sha256();
    const bytes = this.out.byteCount;
    const events = this.out.eventCount;
    const file = basename(this.castPath);
    const content = this.content.facts();
    const fields = { file, sha256, bytes, events, duration: this.out.duration, complete: true, version: 2 as const, ...content };
    try {
      // Signed before the rename: a NAME.cast from a live session always has its NAME.cast.sig.
      Object.assign(fields, await this.signer?.finish());
      // Its temporary file goes in live/: one change of the watched top less per session.
      await writeSidecar(this.sidecarPath, { ...this.meta, ...outcome, ...fields }, { tmpDir: this.liveDir, calls: this.calls });
      // Sidecar first: a NAME.cast therefore always has its NAME.json next to it.
      await this.calls.rename(this.partPath, this.castPath);
      if (this.meta) await this.calls.unlink(this.metaPath).catch(() => {});
      // The top first: it makes the .cast durable with its .sig and sidecar. A power cut before
      // live/ is synced can at worst leave the .part there too, which recovery leaves alone
      // (NAME.cast exists): never a .cast without its .sig, never a lost recording.
      await fsyncDir(this.dir);
      await fsyncDir(this.liveDir);
    } catch (err) {
      throw new RecordingError('ERR_REC_FINISH', 'cannot finalise the session recording', err);
    }
    return { castPath: this.castPath, sidecarPath: this.sidecarPath, sha256, bytes, events, ...(content.redactions ? { redactions: content.redactions } : {}) };
  }
}

function headerLine(opts: RecorderOptions): string {
  const env: Record<string, string> = {};
  // The server rejects the whole file for one bad env key or a non-string value: drop those.
  for (const [k, v] of Object.entries(opts.env)) if (ENV_KEY.test(k) && typeof v === 'string') env[k] = v;
  const header: Record<string, unknown> = {
    version: 2,
    width: clampSize(opts.width, 720, 80),
    height: clampSize(opts.height, 200, 24),
    timestamp: Math.floor(opts.timestamp),
  };
  if (opts.command !== undefined) header.command = opts.command;
  header.title = opts.title;
  header.env = env;
  return `${JSON.stringify(header)}\n`;
}

function clampSize(n: number, max: number, fallback: number): number {
  if (!Number.isFinite(n) || n < 1) return fallback;
  return Math.min(Math.floor(n), max);
}

/** Opens a new .part in live/, making live/ first if it is gone (a directory not made by ensureRecordingsDir). */
async function openPart(part: string, live: string): Promise<FileHandle> {
  const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL;
  try {
    return await open(part, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // Not recursive: a recordings directory that is itself missing (an unmounted volume) stays
    // an error rather than being made afresh on whatever filesystem is under it.
    await privateDir(live, { parents: false });
    return await open(part, flags, 0o600);
  }
}
