/*
 * OSC 133 shell-integration marks in terminal output: `ESC ] 133 ; A ST` prompt start, `B`
 * command input start, `C` command executed, `D ; EXIT` command finished (ST is `ESC \` or
 * BEL). See docs/command-markers.md. The command line is taken from a `cmdline_url=` (percent
 * encoded) or `cmdline=` parameter of `C` when the shell sends one (handlers/osc133.bash
 * does), else from the text echoed between `B` and `C`, with backspaces applied.
 */

const START = '\x1b]133;';
/** An unterminated mark longer than this is not a mark: it is dropped, never buffered without end. */
const MAX_MARK = 8 * 1024;
/** Echoed input kept between B and C. */
const MAX_TYPED = 4 * 1024;

/** What a mark means for the recording. */
export type ShellMark = { kind: 'command'; command: string } | { kind: 'finished'; exitStatus: number | null };

/** Finds OSC 133 marks in a stream of output text, across chunk boundaries. */
export class Osc133Parser {
  private carry = '';
  private typed: string | null = null;

  /** True when `b` cannot complete or hold a mark nor add to a command line: it need not be decoded. */
  idle(b: Buffer): boolean {
    return this.carry === '' && this.typed === null && !b.includes(0x1b);
  }

  /** Returns the marks completed by this chunk, in order. */
  feed(text: string): ShellMark[] {
    let s = this.carry + text;
    this.carry = '';
    const marks: ShellMark[] = [];
    let pos = 0;
    for (;;) {
      const i = s.indexOf(START, pos);
      if (i < 0) break;
      this.addTyped(s.slice(pos, i));
      const bel = s.indexOf('\x07', i);
      const st = s.indexOf('\x1b\\', i);
      const j = bel < 0 ? st : st < 0 ? bel : Math.min(bel, st);
      if (j < 0) {
        if (s.length - i <= MAX_MARK) this.carry = s.slice(i);
        return marks;
      }
      const mark = this.mark(s.slice(i + START.length, j));
      if (mark) marks.push(mark);
      pos = j + (j === bel ? 1 : 2);
    }
    // A mark's first bytes may end this chunk.
    const keep = partialStart(s, pos);
    this.addTyped(s.slice(pos, s.length - keep));
    if (keep > 0) this.carry = s.slice(s.length - keep);
    s = '';
    return marks;
  }

  private addTyped(t: string): void {
    if (this.typed !== null && t.length > 0) this.typed = (this.typed + t).slice(0, MAX_TYPED);
  }

  private mark(body: string): ShellMark | null {
    const [kind, ...params] = body.split(';');
    switch (kind) {
      case 'A':
        this.typed = null;
        return null;
      case 'B':
        this.typed = '';
        return null;
      case 'C': {
        const fromShell = commandParam(params.join(';'));
        const command = (fromShell ?? cleanEcho(this.typed ?? '')).trim();
        this.typed = null;
        return { kind: 'command', command };
      }
      case 'D': {
        const n = params[0] !== undefined && /^-?\d{1,10}$/.test(params[0]) ? Number(params[0]) : null;
        return { kind: 'finished', exitStatus: n };
      }
      default:
        return null;
    }
  }
}

/** How many characters at the end of `s` (from `pos`) could be the start of a mark. */
function partialStart(s: string, pos: number): number {
  for (let n = Math.min(START.length - 1, s.length - pos); n > 0; n--) if (START.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

/** The command line of a `C` mark's parameters (`cmdline_url=` percent-encoded, or `cmdline=`), if any. */
function commandParam(params: string): string | undefined {
  const url = /(?:^|;)cmdline_url=(.*)$/s.exec(params);
  if (url) {
    try {
      return decodeURIComponent(url[1]!);
    } catch {
      return url[1]!.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  }
  const plain = /(?:^|;)cmdline=(.*)$/s.exec(params);
  return plain ? plain[1] : undefined;
}

/** The line a user typed, as the terminal echoed it: escape sequences dropped, backspaces applied. */
function cleanEcho(echo: string): string {
  const text = echo.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]/g, '');
  const out: string[] = [];
  for (const ch of text) {
    if (ch === '\b' || ch === '\x7f') out.pop();
    else if (ch >= ' ') out.push(ch);
  }
  return out.join('');
}
