import type { ServerChannel } from 'ssh2';
import type { Program } from '../launch/program.js';
import type { Recorder } from '../recording/recorder.js';

/** Where a chunk of program output goes: the channel's stdout or its stderr. */
export type OutputStream = 'out' | 'err';

/**
 * Carries a session's output to the client and the recording, in order.
 *
 * No batching: joining the chunks of one event-loop turn (setImmediate) or of a few ms was
 * measured in the bench and rejected. It cut server CPU per MB, but the pty stalls while
 * output waits: recorded throughput fell from 0.98x to 0.77x OpenSSH. Each chunk goes out at once.
 *
 * Back-pressure: the client and the recording's disk can each fall behind. Each holds the
 * program paused until it catches up, so memory stays bounded whichever one is slow.
 */
export class OutputPump {
  private holds = 0;
  private waitingForClient = false;

  constructor(
    private readonly proc: Program,
    private readonly channel: ServerChannel,
    private readonly recorder: () => Recorder | undefined,
  ) {}

  /**
   * Sends a chunk to the recording and the client, pausing the program while either is behind.
   * A `lent` chunk is valid only during this call: the recorder copies it as it encodes, and
   * ssh2 copies it into SSH packets at once when the channel has nothing queued and window for
   * all of it; otherwise the channel would keep it, so it gets a copy.
   */
  push(stream: OutputStream, b: Buffer, lent = false): void {
    const recorder = this.recorder();
    if (recorder && !recorder.output(b)) this.hold(recorder.drained());
    const target = stream === 'out' ? this.channel : this.channel.stderr;
    if (lent && !(stream === 'out' && sendsAtOnce(this.channel, b.length))) b = Buffer.from(b);
    if (!target.write(b) && !this.waitingForClient) {
      this.waitingForClient = true;
      this.hold(
        new Promise<void>((resolve) => {
          const done = () => {
            this.channel.off('drain', done).off('close', done);
            this.waitingForClient = false;
            resolve();
          };
          this.channel.on('drain', done).on('close', done);
        }),
      );
    }
  }

  private hold(until: Promise<unknown>): void {
    if (this.holds++ === 0) this.proc.pause();
    void until.finally(() => {
      if (--this.holds === 0) this.proc.resume();
    });
  }
}

/**
 * True when ssh2 (1.17) turns `len` bytes written to the channel into packets before write()
 * returns: nothing is queued in the stream, the channel is open and the client's window takes
 * all of it (Channel#_write keeps the rest of a chunk until the window reopens). Reads ssh2's
 * `outgoing` channel state; without it, false (the caller copies).
 */
function sendsAtOnce(channel: ServerChannel, len: number): boolean {
  const outgoing = (channel as unknown as { outgoing?: { window?: unknown; state?: unknown } }).outgoing;
  return channel.writableLength === 0 && !channel.writableCorked && outgoing?.state === 'open' && typeof outgoing.window === 'number' && outgoing.window >= len;
}
