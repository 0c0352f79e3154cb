import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

/** Limits on connections that have not authenticated yet. */
export interface ConnectionGateOptions {
  loginGraceMs: number;
  maxUnauthenticated: number;
  logger: Logger;
}

/**
 * Guards the door before authentication: every new socket gets a login grace timer, and
 * when more than `maxUnauthenticated` sockets are waiting, one is dropped: the oldest that
 * has not even sent an SSH identification line, else the oldest. A flood of idle or garbage
 * connections therefore holds a bounded number of slots for a bounded time, and a member
 * whose client is already talking SSH is the last to be pushed out.
 * ssh2 has neither limit (docs/external-systems.md §4), so they live at the socket level, before ssh2.
 */
export class ConnectionGate {
  // Insertion order of a Map is arrival order: the first key is the oldest waiter.
  private readonly waiting = new Map<Socket, NodeJS.Timeout>();
  private readonly talking = new WeakSet<Socket>();

  constructor(private readonly opts: ConnectionGateOptions) {}

  /** Registers a freshly accepted socket; returns a function to call once it authenticated. */
  admit(socket: Socket): () => void {
    const timer = setTimeout(() => {
      this.opts.logger.info({ event: 'login_grace_expired', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }, 'login grace time expired; disconnecting');
      this.drop(socket);
    }, this.opts.loginGraceMs);
    timer.unref();
    this.waiting.set(socket, timer);
    socket.once('close', () => this.release(socket));
    if (this.waiting.size > this.opts.maxUnauthenticated) {
      const oldest = this.victim();
      this.opts.logger.warn(
        { event: 'unauthenticated_limit', remoteAddress: oldest.remoteAddress, remotePort: oldest.remotePort, waiting: this.waiting.size },
        'too many unauthenticated connections; dropping the oldest',
      );
      this.drop(oldest);
    }
    return () => this.release(socket);
  }

  /** Marks a waiting socket as speaking SSH (its identification line arrived). */
  talkingSsh(socket: Socket): void {
    this.talking.add(socket);
  }

  private victim(): Socket {
    for (const s of this.waiting.keys()) if (!this.talking.has(s)) return s;
    return this.waiting.keys().next().value as Socket;
  }

  /** Connections currently waiting to authenticate. */
  get size(): number {
    return this.waiting.size;
  }

  /** Drops every waiting connection (shutdown). */
  closeAll(): void {
    for (const s of [...this.waiting.keys()]) this.drop(s);
  }

  private release(socket: Socket): void {
    const t = this.waiting.get(socket);
    if (t) clearTimeout(t);
    this.waiting.delete(socket);
  }

  private drop(socket: Socket): void {
    this.release(socket);
    socket.destroy();
  }
}
