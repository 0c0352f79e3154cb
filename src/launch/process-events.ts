import { constants } from 'node:os';
import type { ExitInfo } from './program.js';

/** Signals a client may send (RFC 4254 §6.10); anything else is ignored, not guessed at. */
export const CLIENT_SIGNALS: ReadonlySet<string> = new Set([
  'ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2',
]);

/** The name ssh2 wants for a signal number ('TERM' for 15); 'UNKNOWN' if the platform has none. */
export function signalName(signo: number): string {
  // os.constants.signals lists canonical names first (ABRT before IOT, IO before POLL).
  for (const [name, n] of Object.entries(constants.signals)) {
    if (n === signo) return name.slice(3);
  }
  return 'UNKNOWN';
}

/** Maps a client signal name to a Node signal, or undefined when clients may not send it. */
export function clientSignal(name: string): NodeJS.Signals | undefined {
  const bare = name.toUpperCase().replace(/^SIG/, '');
  return CLIENT_SIGNALS.has(bare) ? (`SIG${bare}` as NodeJS.Signals) : undefined;
}

/**
 * Delivers chunks to listeners, keeping the ones that arrive before the first listener
 * so a caller that attaches a moment late loses nothing.
 */
export class ChunkFanout {
  private readonly listeners: Array<(b: Buffer) => void> = [];
  private readonly borrowers: Array<(b: Buffer) => void> = [];
  private pending: Buffer[] = [];

  /** Adds a listener and hands it anything that was waiting. */
  add(cb: (b: Buffer) => void): void {
    this.listeners.push(cb);
    const waiting = this.pending;
    this.pending = [];
    for (const b of waiting) cb(b);
  }

  /** Passes one chunk on, or keeps it until there is a listener. */
  emit(b: Buffer): void {
    if (this.listeners.length === 0) this.pending.push(b);
    else for (const cb of this.listeners) cb(b);
  }

  /** Adds a listener that takes chunks valid only during its call (it copies what it keeps); it gets anything waiting too. */
  addBorrower(cb: (b: Buffer) => void): void {
    this.borrowers.push(cb);
    const waiting = this.pending;
    this.pending = [];
    for (const b of waiting) cb(b);
  }

  /** Passes on a chunk that is valid only during this call: borrowers see it as it is, other listeners (and the queue) get a copy. */
  lend(b: Buffer): void {
    for (const cb of this.borrowers) cb(b);
    if (this.listeners.length > 0 || this.borrowers.length === 0) this.emit(Buffer.from(b));
  }
}

/** Calls exit listeners once, including ones added after the exit. */
export class ExitOnce {
  private info: ExitInfo | undefined;
  private readonly listeners: Array<(e: ExitInfo) => void> = [];

  /** Registers a listener; if the exit already happened it is told asynchronously, never re-entrantly. */
  add(cb: (e: ExitInfo) => void): void {
    if (this.info) {
      const info = this.info;
      queueMicrotask(() => cb(info));
    } else this.listeners.push(cb);
  }

  /** Records the exit and tells everyone; later calls are ignored. */
  fire(info: ExitInfo): void {
    if (this.info) return;
    this.info = info;
    for (const cb of this.listeners.splice(0)) cb(info);
  }

  /** True once the exit was recorded. */
  get done(): boolean {
    return this.info !== undefined;
  }
}
