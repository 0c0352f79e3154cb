import type { FileHandle } from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { AHEAD_MAX, escapeAhead, escapeJson, timeText } from './json-text.js';
import { RecordingError } from './recording-error.js';
import type { RecordingSigner } from './recording-signer.js';

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
const BACKLOG_LIMIT_FACTOR = 16;

/**
 * The write path of one recording: encodes events as asciicast lines straight into reusable
 * batch buffers, seals a batch when it is half full (or FLUSH_EVERY_MS after its first line),
 * and writes the batches in order, one writev at a time, while the next batch fills. Only bytes
 * whose write has returned are hashed and shown to the signer. Its failure state is the
 * recording's: a failed write, a stuck disk or a failed signature chain end the writing.
 */
export class CastWriter {
  private readonly start: number;
  private readonly hash: Hash = createHash('sha256');
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

  /** Writes to `fh` after the header; `clock` gives milliseconds, event times are seconds since this call. */
  constructor(
    private readonly fh: FileHandle,
    private readonly clock: () => number,
    private readonly highWater: number,
  ) {
    this.start = clock();
  }

  /** Counts the header, written by the caller before any event, and from then on lets `signer` sign what is written. */
  headerWritten(header: Buffer, signer: RecordingSigner | undefined): void {
    this.hash.update(header);
    this.bytes = header.length;
    // The chain only ever sees bytes whose write has returned (byteCount, digestSoFar): the header's has, now.
    signer?.follow(this);
  }

  /** Appends one event line at clock time `at` and returns its time; a Buffer is known-valid UTF-8 and is escaped byte by byte. */
  event(code: string, data: Buffer | string | null, at = this.clock()): number {
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

  /** True while more than highWater bytes wait for the disk; false after a failure, so a session never hangs on it. */
  get needsDrain(): boolean {
    return this.failure === null && this.queued + this.pos > this.highWater;
  }

  /** Resolves once the backlog is below highWater again (or the writer has failed). */
  drained(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Subscribes to the failure of the recording (now, if it has already failed). */
  onError(cb: (err: Error) => void): void {
    this.errorListeners.push(cb);
    const failure = this.failure;
    if (failure) queueMicrotask(() => cb(failure));
  }

  /** Ends the recording's writing with `err` (the first failure wins): buffered lines are dropped, waiters woken, listeners told. */
  fail(err: RecordingError): void {
    if (this.failure) return;
    this.failure = err;
    this.queue = [];
    this.queued = 0;
    this.pos = 0;
    this.wakeDrainWaiters();
    for (const cb of this.errorListeners) cb(err);
  }

  /** Takes no more events and resolves once every line is written; rejects with the failure if there was one. */
  async end(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.seal();
    while (this.writing) await this.writing;
    if (this.failure) throw this.failure;
  }

  /** Events written (header not counted). */
  get eventCount(): number {
    return this.events;
  }

  /** Bytes written, header included. */
  get byteCount(): number {
    return this.bytes;
  }

  /** Time of the last event, in seconds from the start. */
  get duration(): number {
    return this.lastT;
  }

  /** The SHA-256 of every byte written so far; the hash goes on (the signer reads it at each checkpoint). */
  digestSoFar(): Buffer {
    return this.hash.copy().digest();
  }

  /** Hex SHA-256 of every byte written, after `end`. */
  sha256(): string {
    return this.digestSoFar().toString('hex');
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

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}

/** Writes all of `bufs` at the file position, however many writes it takes; rejects when a write makes no progress. */
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
