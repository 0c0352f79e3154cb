import { promises as fs } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import { parseClaim, type Claims } from './claims.js';
import type { WorkQueue } from './queue.js';

/**
 * Finds recordings to upload: a chokidar watcher for new `*.cast` files (fast pickup), plus
 * directory scans for the backlog at start, for anything the watcher missed, and for claims
 * left by dead uploaders (which no event announces).
 *
 * chokidar re-lists and lstat()s the whole directory whenever it sees the directory change, so with a backlog
 * of N recordings each upload costs O(N) and draining costs O(N²). While more than `HIGH`
 * recordings wait, the watcher is closed and a cheap readdir scan runs every second instead;
 * it comes back once the queue is short again.
 *
 * The scan timer is deliberately not unref'd: it is what keeps the process alive until stop().
 * While scanning instead of watching it is the only handle left between uploads, and
 * `teamssh upload` has nothing else; unref'd, Node exited (code 0) whenever a backlog drained
 * before the next scan, and recordings written after that scan were never uploaded.
 */

const HIGH = 64;
const LOW = 8;
const BACKLOG_SCAN_MS = 1000;
const POLL_MS = 200;

const isCast = (name: string) => name.endsWith('.cast');

/** Watches and scans one recordings directory, feeding the queue. */
export class RecordingsWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private busy = false;

  constructor(
    private readonly dir: string,
    private readonly queue: WorkQueue,
    private readonly claims: Claims,
    private readonly log: Logger,
    private readonly rescanMs: number,
  ) {}

  /** Starts watching, then scans once (after the watcher is ready, so nothing falls between). */
  async start(): Promise<void> {
    // Busy like a tick, so a burst of watcher events cannot start a second tick (and timer) alongside.
    this.busy = true;
    try {
      await this.openWatcher();
      await this.scan();
      await this.adjust();
    } finally {
      this.busy = false;
    }
    this.schedule();
  }

  /** Stops watching and scanning. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.closeWatcher();
  }

  /** Queues every finished recording and every stale claim in the directory, oldest name first. */
  async scan(): Promise<void> {
    let names: string[];
    try {
      names = (await fs.readdir(this.dir)).sort();
    } catch (err) {
      this.log.error({ err, dir: this.dir }, 'cannot read the recordings directory');
      return;
    }
    for (const name of names) {
      if (this.closed) return;
      if (isCast(name)) this.queue.add(name.slice(0, -'.cast'.length), name);
      else {
        const c = parseClaim(name);
        if (c && !this.queue.has(c.base) && (await this.claims.isStale(name))) {
          this.log.info({ recording: c.base, deadPid: c.pid }, 'taking over a recording claimed by an uploader that is gone');
          this.queue.add(c.base, name);
        }
      }
    }
  }

  /** Arms the one scan timer (never unref'd: see the file comment). */
  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), this.watcher ? this.rescanMs : BACKLOG_SCAN_MS);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.adjust();
      await this.scan();
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  /** Watch while the queue is short, scan while it is long. */
  private async adjust(): Promise<void> {
    if (this.watcher && this.queue.queued > HIGH) {
      this.log.debug({ queued: this.queue.queued }, 'large backlog: scanning instead of watching until it drains');
      await this.closeWatcher();
    } else if (!this.watcher && this.queue.queued < LOW) {
      await this.openWatcher();
    }
  }

  private async openWatcher(): Promise<void> {
    if (this.closed) return;
    const w = watch(this.dir, {
      depth: 0,
      ignoreInitial: true,
      // Polling, not inotify. Live sessions now append in live/ (docs/recordings-layout.md), so
      // the top changes only when the queue does; but the uploader's own steps (claims, outcome
      // sidecars, moves to uploaded/) still change it several times per recording, and with
      // inotify chokidar reacted to each of them: measured in the connection-rate workload
      // (both builds served at once, logins alternating), server CPU per login 54 ms with
      // inotify against 36 ms polled. Polled, chokidar stats the directory itself, whose
      // mtime changes only when an entry is created, renamed or removed, and only the few
      // `.cast` files `ignored` lets through; pickup takes up to POLL_MS.
      usePolling: true,
      interval: POLL_MS,
      binaryInterval: POLL_MS,
      // Only finished recordings: `.part` files, claims, sidecars and subdirectories are not ours to see.
      ignored: (p: string) => p !== this.dir && !isCast(path.basename(p)),
    });
    const onFile = (p: string) => {
      if (path.dirname(p) === this.dir) this.queue.add(path.basename(p).slice(0, -'.cast'.length), path.basename(p));
      // A burst of new files: hand over to scanning before chokidar's re-listing gets expensive.
      if (this.queue.queued > HIGH && !this.busy) {
        if (this.timer) clearTimeout(this.timer);
        void this.tick();
      }
    };
    w.on('add', onFile).on('change', onFile).on('error', (err) => this.log.error({ err }, 'recordings directory watcher failed'));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    if (this.closed) await w.close();
    else this.watcher = w;
  }

  private async closeWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
  }
}
