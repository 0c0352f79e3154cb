import { Utf8Stream } from './json-text.js';
import { Osc133Parser } from './osc133.js';
import type { RedactRule } from './redact-rules.js';
import { Redactor } from './redactor.js';

/** Appends one event at clock time `at` (ms) and returns its time in the recording (seconds); a Buffer is valid UTF-8. */
export type EventSink = (code: 'o' | 'i' | 'm', data: string | Buffer, at: number) => number;

/** One command the shell reported (OSC 133), as listed in the sidecar. */
export interface CommandEntry {
  /** Seconds into the recording when it started (its "m" marker). */
  at: number;
  /** The command line, redacted like the output. */
  command: string;
  /** Seconds into the recording when the shell reported it finished, if it did. */
  endedAt?: number;
  exitStatus?: number | null;
}

/** What the content filter adds to the sidecar. */
export interface ContentFacts {
  /** Matches per redaction rule (absent when redaction is off). */
  redactions?: Record<string, number>;
  commands: CommandEntry[];
  /** Commands past the sidecar's cap of MAX_COMMANDS, counted only. */
  commandsDropped?: number;
}

const MAX_COMMANDS = 10_000;
const MAX_LABEL = 200;

/**
 * What of a session's terminal text goes into its recording: output and typed input are
 * redacted (when `rules` is not null), and each command the shell reports becomes a "m"
 * marker labelled with its command line. Markers are read from the redacted output and
 * their labels redacted once more after decoding, so a marker never shows redacted text.
 */
export class RecordedContent {
  private readonly outRedactor: Redactor | null;
  private readonly inRedactor: Redactor | null;
  private readonly outDecoder = new Utf8Stream();
  private readonly inDecoder = new Utf8Stream();
  private readonly marks = new Osc133Parser();
  private readonly commands: CommandEntry[] = [];
  private open: CommandEntry | undefined;
  private dropped = 0;

  constructor(
    private readonly rules: readonly RedactRule[] | null,
    private readonly sink: EventSink,
  ) {
    this.outRedactor = rules ? new Redactor(rules, (text, at) => this.redactedOutput(text, at)) : null;
    this.inRedactor = rules ? new Redactor(rules, (text, at) => void sink('i', text, at)) : null;
  }

  /** Terminal output at clock time `at`. */
  output(data: Buffer | string, at: number): void {
    if (this.outRedactor) this.outRedactor.write(data, at);
    else this.redactedOutput(decode(this.outDecoder, data), at);
  }

  /** Typed input at clock time `at` (the caller decides whether input is recorded at all). */
  input(data: Buffer | string, at: number): void {
    if (this.inRedactor) this.inRedactor.write(data, at);
    else {
      const text = decode(this.inDecoder, data);
      if (text) this.sink('i', text, at);
    }
  }

  /** Writes whatever is held back; call once, before the last events. */
  end(at: number): void {
    if (this.outRedactor) this.outRedactor.end(at);
    else this.redactedOutput(this.outDecoder.end(), at);
    if (this.inRedactor) this.inRedactor.end(at);
    else {
      const tail = this.inDecoder.end();
      if (tail) this.sink('i', tail, at);
    }
  }

  /** Redaction counts and the command list, for the sidecar. */
  facts(): ContentFacts {
    const facts: ContentFacts = { commands: this.commands };
    if (this.outRedactor && this.inRedactor) {
      const sum: Record<string, number> = {};
      for (const [k, v] of Object.entries(this.outRedactor.counts)) sum[k] = v + (this.inRedactor.counts[k] ?? 0);
      facts.redactions = sum;
    }
    if (this.dropped > 0) facts.commandsDropped = this.dropped;
    return facts;
  }

  private redactedOutput(text: string | Buffer | null, at: number): void {
    if (!text || text.length === 0) return;
    const t = this.sink('o', text, at);
    if (typeof text !== 'string' && this.marks.idle(text)) return;
    for (const mark of this.marks.feed(text.toString())) {
      if (mark.kind === 'finished') {
        if (this.open) Object.assign(this.open, { endedAt: t, exitStatus: mark.exitStatus });
        this.open = undefined;
        continue;
      }
      const command = this.label(mark.command);
      this.sink('m', command, at);
      this.open = undefined;
      if (this.commands.length >= MAX_COMMANDS) this.dropped++;
      else this.commands.push((this.open = { at: t, command }));
    }
  }

  private label(command: string): string {
    const clean = this.rules ? Redactor.redactAll(this.rules, command) : command;
    const oneLine = clean.replace(/[\x00-\x1f\x7f]+/g, ' ');
    return oneLine.length > MAX_LABEL ? `${oneLine.slice(0, MAX_LABEL - 1)}…` : oneLine;
  }
}

function decode(d: Utf8Stream, data: Buffer | string): Buffer | string | null {
  return typeof data === 'string' ? d.writeString(data) : d.write(data);
}
