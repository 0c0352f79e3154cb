import type { Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { READ_CHUNK } from '../recording/cast-lines.js';
import { sshsigHash } from '../recording/sshsig.js';

/**
 * Writes the part files of a split recording and, when asked, hashes each part (SHA-512, as
 * SSHSIG signs) from the very bytes it writes, so signing a part needs no second read of it
 * and an edit to a part file after it was written can never be signed.
 *
 * Adding a header or an event is synchronous: small pieces are copied into a staging buffer
 * (one hash update and one write per MiB instead of two per event), big ones are kept by
 * reference, so they must stay unchanged until `flush()`. `flush()` writes what was added, in
 * order, opening and closing files as parts begin and end; the splitter calls it once per read,
 * before the read buffer is reused, so memory stays near one read's worth.
 */

/** One written part. */
export interface CastPart {
  /** 1-based number of this part in the whole recording. */
  index: number;
  /** Number of parts of the whole recording. */
  total: number;
  path: string;
  bytes: number;
  events: number;
  title: string;
  /** Original time (seconds) of this part's first event. */
  start: number;
  /** Digest (SSHSIG's `SIGN_HASH`, SHA-256) of the part file as written; only when the splitter was asked for digests. */
  digest?: Buffer;
}

// One read's worth of output (event heads shrink or grow by a few bytes) fits in one stage.
const STAGE = READ_CHUNK + 64 * 1024;
// Pieces at least this big are written from the read buffer as they are, not copied.
const BY_REFERENCE = 64 * 1024;

interface OpenPart {
  part: CastPart;
  hash: Hash | undefined;
  pieces: Buffer[];
  fh: FileHandle | undefined;
}

/** Builds part files in `workDir` (which must exist) as the splitter adds headers and events. */
export class PartWriter {
  private readonly parts: CastPart[] = [];
  /** Parts that ended since the last flush, then the one being filled. */
  private pending: OpenPart[] = [];
  private stage = Buffer.allocUnsafe(STAGE);
  private start = 0;
  private used = 0;

  constructor(
    private readonly workDir: string,
    private readonly digests: boolean,
  ) {}

  /** Starts the next part with its complete header line (newline included). */
  open(index: number, total: number, title: string, start: number, header: Buffer): void {
    this.cut();
    const file = path.join(this.workDir, `part-${String(index).padStart(4, '0')}.cast`);
    const part: CastPart = { index, total, path: file, bytes: 0, events: 0, title, start };
    this.parts.push(part);
    this.pending.push({ part, hash: this.digests ? sshsigHash() : undefined, pieces: [], fh: undefined });
    this.putBytes(header);
  }

  /** Adds one event line to the current part: `head` (ASCII, the rebased time) then `rest`, then a newline. */
  event(head: string, rest: Buffer): void {
    const cur = this.pending.at(-1)!;
    cur.part.events++;
    cur.part.bytes += head.length + rest.length + 1;
    if (this.used + head.length > STAGE) this.newStage();
    // A few ASCII bytes per line: a loop costs less than Buffer#write's argument handling.
    for (let i = 0; i < head.length; i++) this.stage[this.used++] = head.charCodeAt(i);
    this.putBytes(rest, false);
    if (this.used + 1 > STAGE) this.newStage();
    this.stage[this.used++] = 0x0a;
  }

  /** Writes everything added so far; parts that ended are closed (and their digests taken). */
  async flush(): Promise<void> {
    this.cut();
    const queue = this.pending;
    for (const [i, p] of queue.entries()) {
      p.fh ??= await open(p.part.path, 'w', 0o600);
      for (const b of p.pieces) p.hash?.update(b);
      if (p.pieces.length > 0) await p.fh.writev(p.pieces);
      p.pieces = [];
      if (i < queue.length - 1) await this.close(p);
    }
    this.pending = queue.slice(-1);
    // Everything staged is written: the stage is reused (fresh memory per read showed as GC).
    this.start = this.used = 0;
  }

  /** Flushes, closes the last part and returns every part written. */
  async done(): Promise<CastPart[]> {
    await this.flush();
    for (const p of this.pending) await this.close(p);
    this.pending = [];
    return this.parts;
  }

  /** Closes any file left open after a failure (the work directory is removed by the caller). */
  async release(): Promise<void> {
    for (const p of this.pending) await p.fh?.close().catch(() => undefined);
    this.pending = [];
  }

  private async close(p: OpenPart): Promise<void> {
    await p.fh?.close();
    p.fh = undefined;
    if (p.hash) p.part.digest = p.hash.digest();
  }

  private putBytes(b: Buffer, count = true): void {
    if (count) this.pending.at(-1)!.part.bytes += b.length;
    if (b.length >= BY_REFERENCE) {
      this.cut();
      this.pending.at(-1)!.pieces.push(b);
      return;
    }
    if (this.used + b.length > STAGE) this.newStage();
    b.copy(this.stage, this.used);
    this.used += b.length;
  }

  /** Hands the staged bytes so far to the current part. */
  private cut(): void {
    if (this.used > this.start) this.pending.at(-1)!.pieces.push(this.stage.subarray(this.start, this.used));
    this.start = this.used;
  }

  private newStage(): void {
    this.cut();
    // The old stage's bytes are still waiting to be written; they keep that memory alive.
    this.stage = Buffer.allocUnsafe(STAGE);
    this.start = this.used = 0;
  }
}
