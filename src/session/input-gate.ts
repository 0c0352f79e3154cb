/**
 * Typed input on its way from the client to the program, and into the recording only while
 * the terminal echoes it. A program that reads a password (sudo, `read -s`, ssh's passphrase
 * prompt) turns the terminal's ECHO off first, so input that arrives while ECHO is off is
 * never recorded, even with input recording on. The echo state is read before the input is
 * handed to the program: that is the state the terminal itself uses to decide whether to echo
 * it, and a program cannot turn echo back on before it has read the secret. While a question
 * is out, later input waits behind it, so input is never reordered; the wait is ~0.2 ms and
 * only happens when input is recorded on a pty.
 */
export class InputGate {
  private queue: Buffer[] = [];
  private busy = false;
  private ended: (() => void) | null = null;

  /**
   * `deliver` hands input to the program; `record` writes it to the recording (null: input is
   * not recorded); `echoOn` reads the terminal's echo state (null: no terminal, pipes are recorded as they come).
   */
  constructor(
    private readonly deliver: (b: Buffer) => void,
    private readonly record: ((b: Buffer) => void) | null,
    private readonly echoOn: (() => Promise<boolean>) | null,
  ) {}

  /** Takes one chunk of client input. */
  push(b: Buffer): void {
    if (!this.record) return this.deliver(b);
    if (!this.echoOn) {
      this.record(b);
      return this.deliver(b);
    }
    this.queue.push(b);
    if (!this.busy) void this.run();
  }

  /** The client sent EOF: `then` runs after every chunk before it was delivered. */
  end(then: () => void): void {
    if (this.busy) this.ended = then;
    else then();
  }

  private async run(): Promise<void> {
    this.busy = true;
    while (this.queue.length > 0) {
      // Whatever arrived while the last question was out is decided by one new question.
      const batch = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue);
      this.queue = [];
      const echo = await this.echoOn!().catch(() => false);
      if (echo) this.record!(batch);
      this.deliver(batch);
    }
    this.busy = false;
    const ended = this.ended;
    this.ended = null;
    ended?.();
  }
}
