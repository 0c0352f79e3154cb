/**
 * The in-memory view of the recordings directory's queue: which recordings wait, which are
 * in flight, at most `concurrency` at once. The directory stays the source of truth; this
 * only dedupes what the watcher and the rescans report and bounds parallel uploads.
 */
export class WorkQueue {
  private readonly pending: Array<{ key: string; file: string }> = [];
  private readonly known = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly run: (key: string, file: string) => Promise<void>,
  ) {}

  /** Queues `file` under `key` (the recording's name) unless that recording is already queued or in flight. */
  add(key: string, file: string): void {
    if (this.stopped || this.known.has(key)) return;
    this.known.add(key);
    this.pending.push({ key, file });
    this.pump();
  }

  /** Queues `file` again after `ms` (a local error): counted as queued meanwhile, so idle() waits for it. */
  later(key: string, file: string, ms: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key, file);
      this.settle();
    }, ms);
    this.timers.set(key, t);
  }

  /** Whether a recording is queued or in flight. */
  has(key: string): boolean {
    return this.known.has(key);
  }

  /** Resolves once nothing is queued, waiting for a retry, or in flight. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Takes nothing new; resolves when the jobs in flight have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const p of this.pending.splice(0)) this.known.delete(p.key);
    await Promise.allSettled([...this.running]);
    this.settle();
  }

  /** Recordings waiting for a free slot. */
  get queued(): number {
    return this.pending.length;
  }

  /** Jobs in flight. */
  get inFlight(): number {
    return this.running.size;
  }

  private isIdle(): boolean {
    return this.pending.length === 0 && this.running.size === 0 && this.timers.size === 0;
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.pending.length > 0) {
      const { key, file } = this.pending.shift()!;
      const p: Promise<void> = this.run(key, file)
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(p);
          this.known.delete(key);
          this.pump();
          this.settle();
        });
      this.running.add(p);
    }
  }

  private settle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
