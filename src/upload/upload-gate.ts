import type { Logger } from '../log.js';
import { setUploadPaused } from '../metrics/live-gauges.js';

/**
 * The one place that decides whether uploads may go out now. Two conditions hold back every
 * upload at once, not file by file: a rate limit (429 with a reset time applies to the whole
 * IP) and a refused install id (401: no file can succeed until the operator acts). While the
 * install id is refused, a single upload probes the server every `unauthorizedMs`, and the
 * operator gets one error line when it starts and one info line when it ends.
 */
export class UploadGate {
  private paused = false;
  private probing = false;
  private notBefore = 0;
  private wake!: () => void;
  private changed!: Promise<void>;

  constructor(
    private readonly log: Logger,
    private readonly unauthorizedMs: number,
  ) {
    this.renew();
  }

  /** True while uploads are paused on a 401. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Waits until this caller may send; rejects when `signal` aborts. */
  async pass(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const now = Date.now();
      if (now >= this.notBefore) {
        if (!this.paused) return;
        if (!this.probing) {
          this.probing = true;
          return;
        }
      }
      const wait = this.paused && this.probing ? undefined : Math.max(1, this.notBefore - now);
      await this.waitChange(wait, signal);
    }
  }

  /** The server accepted the install id (any answer past authentication does). */
  authenticated(): void {
    this.probing = false;
    if (this.paused) {
      this.paused = false;
      setUploadPaused(this, false);
      this.log.info({ event: 'upload_resumed' }, 'the asciinema server accepts the install id again: uploads resume');
    }
    this.renew();
  }

  /** The server refused the install id: pause everything and probe slowly. */
  unauthorized(message: string, connectUrlHint: string): void {
    this.probing = false;
    if (!this.paused) {
      this.paused = true;
      setUploadPaused(this, true);
      this.log.error(
        { event: 'upload_paused', code: 'ERR_UPLOAD_UNAUTHORIZED', serverMessage: message, retryInMs: this.unauthorizedMs },
        `the asciinema server refuses the install id (401): all uploads are paused and retried every ${Math.round(this.unauthorizedMs / 1000)} s; ${connectUrlHint}`,
      );
    }
    this.notBefore = Math.max(this.notBefore, Date.now() + this.unauthorizedMs);
    this.renew();
  }

  /** The probe ended without telling whether the id is accepted (network error, 5xx): let another probe go later. */
  inconclusive(): void {
    if (!this.probing) return;
    this.probing = false;
    this.notBefore = Math.max(this.notBefore, Date.now() + this.unauthorizedMs);
    this.renew();
  }

  /** The server rate-limits this client: nobody sends before `delayMs` from now. */
  rateLimited(delayMs: number): void {
    this.notBefore = Math.max(this.notBefore, Date.now() + delayMs);
    this.renew();
  }

  private renew(): void {
    const prev = this.wake as (() => void) | undefined;
    this.changed = new Promise<void>((resolve) => (this.wake = resolve));
    prev?.();
  }

  private async waitChange(ms: number | undefined, signal: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.changed,
        new Promise<void>((resolve) => {
          if (ms !== undefined) timer = setTimeout(resolve, ms);
        }),
        new Promise<void>((resolve) => {
          onAbort = resolve;
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }
}

/** Sleeps `ms`, waking early (and rejecting) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
