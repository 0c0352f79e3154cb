import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { HOST_TAG } from '../recording/temp-files.js';
import { fileCallsFor } from '../recording/file-calls.js';

/**
 * Exclusive claims on recordings, so two uploaders on one directory never send one file twice.
 * Claiming renames `NAME.cast` to `NAME.cast.claim.<host>.<pid>.<token>.<unix seconds>`: rename is atomic, so of two
 * uploaders exactly one wins, and the claimed file no longer looks finished to any watcher.
 * A claim whose owner died (kill -9, crash) is taken over by renaming it to the new owner's
 * name, which is atomic too: of two uploaders taking over one stale claim, one wins.
 *
 * A claim is stale when its process is gone, when it belongs to this process but to no live
 * uploader in it, or when its heartbeat (the file's mtime, touched while held) is older than
 * `staleMs`: that last bound catches a pid reused by an unrelated process after a restart.
 * `<host>` is a short hash of the hostname: a pid means nothing in another container or on
 * another machine sharing the directory, so claims from elsewhere go stale by heartbeat only.
 * The claim time is in the name rather than set with utimes at once, because every change in
 * the recordings directory makes chokidar re-list it: fewer changes keep a big backlog cheap.
 */

const CLAIM = /^(.+)\.cast\.claim\.([a-f0-9]{8})\.(\d+)\.([a-f0-9]+)\.(\d+)$/;

/** This machine's part of claim names (made in temp-files.ts: temporary files carry it too). */
export { HOST_TAG };

// Tokens of uploaders alive in this process: a claim with our pid but another token is a leftover.
const liveTokens = new Set<string>();

/** A parsed claim file name. */
export interface ClaimName {
  base: string;
  /** Hash of the claiming host's name: pids are only comparable when it is ours. */
  host: string;
  pid: number;
  token: string;
  /** When the claim was made (ms). */
  at: number;
}

/** Parses `NAME.cast.claim.<host>.<pid>.<token>.<seconds>`; undefined for any other name. */
export function parseClaim(file: string): ClaimName | undefined {
  const m = CLAIM.exec(file);
  return m ? { base: m[1]!, host: m[2]!, pid: Number(m[3]), token: m[4]!, at: Number(m[5]) * 1000 } : undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process that wrote a file named with `host` and `pid` is gone for good, the test
 * claims use without the token: on this host its pid no longer runs; anywhere, nothing touched
 * the file for `staleMs` (a pid from another host, or reused by an unrelated process, proves
 * nothing). Files of this process go only by that time bound.
 */
export function writerGone(host: string | undefined, pid: number, touchedMs: number, staleMs: number): boolean {
  if (host === HOST_TAG && pid !== process.pid && !processAlive(pid)) return true;
  return Date.now() - touchedMs > staleMs;
}

/** Claims held by one uploader. */
export class Claims {
  /** This uploader's token, part of every claim name it holds. */
  readonly token = randomBytes(6).toString('hex');
  private readonly held = new Map<string, string>(); // base -> claimed path
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly dir: string,
    private readonly staleMs: number,
  ) {
    liveTokens.add(this.token);
    this.heartbeat = setInterval(() => void this.touchAll(), Math.max(1000, Math.floor(staleMs / 5)));
    this.heartbeat.unref();
  }

  /** Path for a new claim of this uploader on `base`. */
  private claimPath(base: string): string {
    return path.join(this.dir, `${base}.cast.claim.${HOST_TAG}.${process.pid}.${this.token}.${Math.floor(Date.now() / 1000)}`);
  }

  /** Claims `NAME.cast`; returns the claimed path, or undefined when someone else has it (or it is gone). */
  async claim(base: string): Promise<string | undefined> {
    return this.renameTo(path.join(this.dir, `${base}.cast`), base);
  }

  /** Whether `file` (a claim name) is stale and may be taken over. */
  async isStale(file: string): Promise<boolean> {
    const c = parseClaim(file);
    if (!c) return false;
    if (c.host === HOST_TAG) {
      if (c.pid === process.pid) return !liveTokens.has(c.token);
      if (!processAlive(c.pid)) return true;
    }
    try {
      const st = await fs.stat(path.join(this.dir, file));
      return Date.now() - Math.max(st.mtimeMs, c.at) > this.staleMs;
    } catch {
      return false;
    }
  }

  /** Takes over a stale claim `file`; returns the claimed path, or undefined when another uploader was faster. */
  async takeOver(file: string): Promise<string | undefined> {
    const c = parseClaim(file);
    if (!c || !(await this.isStale(file))) return undefined;
    return this.renameTo(path.join(this.dir, file), c.base);
  }

  /** Gives a claim back: the file is `NAME.cast` again, for this or another uploader to pick up. */
  async release(base: string): Promise<void> {
    const p = this.held.get(base);
    if (!p) return;
    this.held.delete(base);
    await fs.rename(p, path.join(this.dir, `${base}.cast`)).catch(() => undefined);
  }

  /** Forgets a claim whose file has been moved away (uploaded, failed). */
  forget(base: string): void {
    this.held.delete(base);
  }

  /** Stops the heartbeat; claims still held become stale for other uploaders at once. */
  close(): void {
    clearInterval(this.heartbeat);
    liveTokens.delete(this.token);
  }

  private async renameTo(from: string, base: string): Promise<string | undefined> {
    const to = this.claimPath(base);
    try {
      // The claim is the uploader's first call per recording: made as the bookkeeping's are (src/recording/file-calls.ts).
      await (await fileCallsFor(this.dir)).rename(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    this.held.set(base, to);
    return to;
  }

  private async touchAll(): Promise<void> {
    const now = new Date();
    for (const p of this.held.values()) {
      // Only claims old enough to need it: each touch makes the watcher re-list the directory.
      const c = parseClaim(path.basename(p));
      if (c && Date.now() - c.at > this.staleMs / 5) await fs.utimes(p, now, now).catch(() => undefined);
    }
  }
}
