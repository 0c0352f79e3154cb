import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AHEAD_MAX, escapeAhead, escapeJson, timeText } from './json-text.js';
import { RecordedContent } from './recorded-content.js';
import type { RedactRule } from './redact-rules.js';
import { RecordingError } from './recording-error.js';
import { fsyncDir, liveDirOf } from './recordings-dir.js';
import { partSidecarPath, sidecarPath, writeSidecar, type SessionFacts, type SessionOutcome } from './sidecar.js';
import { RecordingSigner, type SigningOptions } from './recording-signer.js';

export { RecordingError } from './recording-error.js';

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

// A batch is written once half full (or after FLUSH_EVERY_MS). It starts at BATCH_MIN and
// doubles each time one fills up, to BATCH_MAX: a streaming session then writes ~512 KiB at a
// time. Each async write costs ~45 us of thread-pool hand-off beyond the copy: measured here,
// FileHandle.writev of 400 MB in 64 KiB pieces 1.14 s CPU per GB, in 1 MiB pieces 0.42. Idle
// and interactive sessions keep the small batch (the RSS row holds 1,000 of them).
const BATCH_MIN = 128 * 1024;
const BATCH_MAX = 1024 * 1024;
// A session starts with a small batch: most logins (`ssh host true`, scripts) write a few
// hundred bytes, and two 128 KiB batches per recorder (the first, and a fresh one sealed in
// at finish) were 256 KiB of off-heap memory per login for the GC to account and free.
const FIRST_BATCH = 4 * 1024;
const NO_BATCH = Buffer.alloc(0);
const FLUSH_EVERY_MS = 100;
const DEFAULT_HIGH_WATER = 4 * 1024 * 1024;
const BACKLOG_LIMIT_FACTOR = 16;
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
  private readonly clock: () => number;
  private readonly start: number;
  private readonly recordInput: boolean;
  private readonly meta: SessionFacts | undefined;
  private readonly highWater: number;
  private readonly hash: Hash = createHash('sha256');
  // Redaction and command markers sit between the session and the events (src/recording/recorded-content.ts).
  private readonly content: RecordedContent;
  // Events are encoded straight into reusable batch buffers: no per-event garbage for the GC.
  private batch: Buffer = Buffer.allocUnsafeSlow(FIRST_BATCH);
  private cap = BATCH_MIN;
  private pos = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private spare: Buffer[] = [];
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastT = 0;
  private bytes = 0;
  private events = 0;
  private closed = false;
  private failure: RecordingError | null = null;
  private readonly errorListeners: Array<(err: Error) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private signer: RecordingSigner | undefined;

  private constructor(opts: RecorderOptions, fh: FileHandle, clock: () => number) {
    this.dir = opts.dir;
    this.liveDir = liveDirOf(opts.dir);
    this.castPath = join(opts.dir, `${opts.name}.cast`);
    this.partPath = join(this.liveDir, `${opts.name}.cast.part`);
    this.sidecarPath = sidecarPath(opts.dir, opts.name);
    this.metaPath = partSidecarPath(this.liveDir, opts.name);
    this.fh = fh;
    this.clock = clock;
    this.start = clock();
    this.recordInput = opts.recordInput;
    this.meta = opts.meta;
    this.highWater = opts.highWaterMark ?? DEFAULT_HIGH_WATER;
    this.content = new RecordedContent(opts.redact ?? null, (code, data, at) => this.event(code, data, at));
  }

  /** Opens live/NAME.cast.part (0600, exclusive) and writes the header; rejects with code ERR_REC_OPEN. */
  static async create(opts: RecorderOptions): Promise<Recorder> {
    const live = liveDirOf(opts.dir);
    const part = join(live, `${opts.name}.cast.part`);
    let fh: FileHandle;
    try {
      fh = await openPart(part, live);
    } catch (err) {
      throw new RecordingError('ERR_REC_OPEN', 'cannot open the session recording', err);
    }
    const rec = new Recorder(opts, fh, opts.clock ?? (() => performance.now()));
    const header = Buffer.from(headerLine(opts), 'utf8');
    // The header, the signature chain and the early sidecar are independent files, so they are
    // written at once: one after the other they were six trips through libuv's threads that
    // the login waited for in turn. Only a crash of this process needs the early identity,
    // and the page cache survives that: no fsync on the login path.
    const [written, signer, meta] = await Promise.allSettled([
      writeAll(fh, [header]),
      opts.signing ? RecordingSigner.open(rec.castPath, live, opts.signing, (err) => rec.fail(new RecordingError('ERR_REC_SIGN', 'cannot write the recording\'s signature chain', err))) : undefined,
      opts.meta ? writeSidecar(rec.metaPath, opts.meta, { durable: false }) : undefined,
    ]);
    const failed = [written, signer, meta].find((r) => r.status === 'rejected');
    if (failed) {
      // A half-created recording holds no session data yet: removing it loses nothing.
      await fh.close().catch(() => {});
      await unlink(part).catch(() => {});
      if (signer.status === 'fulfilled') await signer.value?.discard();
      if (meta.status === 'fulfilled' && opts.meta) await unlink(rec.metaPath).catch(() => {});
      throw new RecordingError('ERR_REC_OPEN', 'cannot write the session recording', failed.reason);
    }
    rec.hash.update(header);
    rec.bytes = header.length;
    // The chain only ever sees bytes whose write has returned: the header's has, now.
    rec.signer = signer.status === 'fulfilled' ? signer.value : undefined;
    rec.signer?.written(header);
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
    this.event('r', `${clampSize(cols, 720, 80)}x${clampSize(rows, 200, 24)}`);
  }

  /** Records a marker ("m"), e.g. where an idle timeout or a policy notice happened. */
  marker(label: string): void {
    this.event('m', label);
  }

  /** Subscribes to a write failure mid-session; the session layer decides fail open or closed. */
  onError(cb: (err: Error) => void): void {
    this.errorListeners.push(cb);
    const failure = this.failure;
    if (failure) queueMicrotask(() => cb(failure));
  }

  /**
   * True while more than highWaterMark bytes wait for the disk. The session layer should then
   * pause the pty and resume when `drained()` resolves; that keeps memory bounded when the disk
   * is slower than the terminal. After a failure this is false so a session never hangs on it.
   */
  get needsDrain(): boolean {
    return this.failure === null && this.queued + this.pos > this.highWater;
  }

  /** Resolves once the backlog is below highWaterMark again (or the recorder has failed). */
  drained(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Flushes, fsyncs, writes the signature and the sidecar NAME.json, then renames live/NAME.cast.part to NAME.cast. */
  async finish(outcome?: SessionOutcome): Promise<FinishedRecording> {
    if (this.closed) throw new RecordingError('ERR_REC_FINISHED', 'recording already finished');
    this.content.end(this.clock());
    // The server rejects a recording with zero events (422).
    if (this.events === 0) this.event('o', '');
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.seal();
    while (this.writing) await this.writing;
    try {
      if (this.failure) throw this.failure;
      await this.fh.sync();
    } catch (err) {
      // The .part stays where it is: recoverPartials finalises it as incomplete later.
      await this.fh.close().catch(() => {});
      await this.signer?.abort();
      throw err instanceof RecordingError ? err : new RecordingError('ERR_REC_WRITE', 'cannot write the session recording', err);
    }
    await this.fh.close();
    const sha256 = this.hash.digest('hex');
    const file = basename(this.castPath);
    const content = this.content.facts();
    const fields = { file, sha256, bytes: this.bytes, events: this.events, duration: this.lastT, complete: true, version: 2 as const, ...content };
    try {
      // Signed before the rename: a NAME.cast from a live session always has its NAME.cast.sig.
      Object.assign(fields, await this.signer?.finish());
      // Its temporary file goes in live/: one change of the watched top less per session.
      await writeSidecar(this.sidecarPath, { ...this.meta, ...outcome, ...fields }, { tmpDir: this.liveDir });
      // Sidecar first: a NAME.cast therefore always has its NAME.json next to it.
      await rename(this.partPath, this.castPath);
      if (this.meta) await unlink(this.metaPath).catch(() => {});
      // The top first: it makes the .cast durable with its .sig and sidecar. A power cut before
      // live/ is synced can at worst leave the .part there too, which recovery leaves alone
      // (NAME.cast exists): never a .cast without its .sig, never a lost recording.
      await fsyncDir(this.dir);
      await fsyncDir(this.liveDir);
    } catch (err) {
      throw new RecordingError('ERR_REC_FINISH', 'cannot finalise the session recording', err);
    }
    return { castPath: this.castPath, sidecarPath: this.sidecarPath, sha256, bytes: this.bytes, events: this.events, ...(content.redactions ? { redactions: content.redactions } : {}) };
  }

  /** Appends one event line at clock time `at` and returns its time; a Buffer is known-valid UTF-8 and is escaped byte by byte. */
  private event(code: string, data: Buffer | string | null, at = this.clock()): number {
    // Microseconds like asciinema; never decreasing even if an injected clock misbehaves (or held-back text comes late).
    const t = Math.max(this.lastT, Math.round((at - this.start) * 1000) / 1e6);
    if (data === null || this.failure || this.closed) return t;
    this.lastT = t;
    // t is a whole number of microseconds over 1e6 (or lastT, one such): Math.round gives it back.
    const prefix = `[${timeText(Math.round(t * 1e6))}, "${code}", `;
    const literal = typeof data === 'string' ? JSON.stringify(data) : null;
    let dataMax = literal === null ? 6 * (data as Buffer).length + 2 : Buffer.byteLength(literal);
    // Escaped ahead when the worst case (6 bytes a byte) does not fit the room left: else every
    // 32-64 KiB chunk sealed early and allocated a batch of up to 384 KiB of its own. A/B, seq
    // output through a signing, redacting recorder: 32 KiB chunks 13.5 -> 9.6 s CPU per GB.
    const ahead = literal === null && this.pos + prefix.length + dataMax + 2 > this.batch.length && dataMax <= AHEAD_MAX ? escapeAhead(data as Buffer) : null;
    if (ahead) dataMax = ahead.length;
    // The whole line goes into one batch, so every write ends on a line boundary.
    this.reserve(prefix.length + dataMax + 2);
    const b = this.batch;
    // ASCII, ~20 characters: a loop costs less than Buffer#write's argument and encoding handling.
    let p = this.pos;
    for (let i = 0; i < prefix.length; i++) b[p++] = prefix.charCodeAt(i);
    if (ahead) p += ahead.copy(b, p);
    else p = literal === null ? escapeJson(data as Buffer, b, p) : p + b.write(literal, p, 'utf8');
    b[p++] = 0x5d; // ]
    b[p++] = 0x0a; // \n
    this.pos = p;
    this.events++;
    if (this.queued + this.pos > this.highWater * BACKLOG_LIMIT_FACTOR) {
      // The session ignored needsDrain and the disk is stuck: stop buffering rather than eat all memory.
      this.fail(new RecordingError('ERR_REC_BACKLOG', 'the session recording fell too far behind'));
    } else if (this.pos >= this.cap / 2 || this.needsDrain) {
      // A small highWaterMark is reached before the batch is half full: write now, a drain waits for it.
      if (this.pos >= this.cap / 2 && this.cap < BATCH_MAX) {
        this.cap *= 2;
        this.spare = [];
      }
      this.seal();
    } else if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.seal();
      }, FLUSH_EVERY_MS);
      this.timer.unref();
    }
    return t;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.batch.length) return;
    this.seal();
    // Past the small first batch (sealed empty), or an event larger than a whole batch.
    if (n > this.batch.length) this.batch = Buffer.allocUnsafeSlow(Math.max(n, this.cap));
  }

  /** Hands the current batch to the writer and starts a fresh one. */
  private seal(): void {
    if (this.pos > 0 && !this.failure) {
      this.queue.push(this.batch.subarray(0, this.pos));
      this.queued += this.pos;
      // A finished recorder writes no more events: no fresh batch for it.
      this.batch = this.closed ? NO_BATCH : (this.spare.pop() ?? Buffer.allocUnsafeSlow(this.cap));
      this.pos = 0;
    }
    if (!this.writing && this.queue.length > 0) this.writing = this.drainLoop();
  }

  // Writes are serial, one writev per round, while new events keep filling the next batch.
  private async drainLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failure) {
        const bufs = this.queue;
        this.queue = [];
        await writeAll(this.fh, bufs);
        for (const b of bufs) {
          this.hash.update(b);
          this.signer?.written(b);
          this.bytes += b.length;
          this.queued -= b.length;
          // Two spares are enough: one batch fills while one is written.
          if (b.buffer.byteLength === this.cap && this.spare.length < 2) this.spare.push(Buffer.from(b.buffer, 0, this.cap));
        }
        if (!this.needsDrain) this.wakeDrainWaiters();
      }
    } catch (err) {
      this.fail(new RecordingError('ERR_REC_WRITE', 'cannot write the session recording', err));
    } finally {
      this.writing = null;
    }
  }

  private fail(err: RecordingError): void {
    if (this.failure) return;
    this.failure = err;
    this.queue = [];
    this.queued = 0;
    this.pos = 0;
    this.wakeDrainWaiters();
    for (const cb of this.errorListeners) cb(err);
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
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
    // Not recursive: a recordings directory that is itself missing stays an error.
    await mkdir(live, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    return await open(part, flags, 0o600);
  }
}

async function writeAll(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  // A regular file may take only part of a write (disk filling up); the next write reports why.
  let rest = bufs.slice();
  while (rest.length > 0) {
    let n = (await fh.writev(rest)).bytesWritten;
    if (n === 0) throw new Error('write made no progress');
    while (rest.length > 0 && n >= rest[0]!.length) n -= rest.shift()!.length;
    if (n > 0) rest[0] = rest[0]!.subarray(n);
  }
}

