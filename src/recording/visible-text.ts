/*
 * The text a secret scanner should look at: terminal output with its escape sequences taken
 * out, so a token coloured in the middle (`grep --color`) still reads as one word. The
 * parser keeps its state between chunks, so a sequence split between two reads is still
 * recognised. OSC payloads (window titles, hyperlinks, shell marks) stay in the text: they
 * are recorded too, and a title can carry the command being run. A payload is set apart from
 * the text around it by a line feed in the projection (standing on the `]` and on the
 * terminator), so a title never runs into the word after it.
 */

const enum State {
  Ground,
  Esc,
  EscIntermediate,
  Csi,
  Osc,
  OscEsc,
  Str,
  StrEsc,
}

// Only ESC starts a sequence (UTF-8 terminals do not take C1 bytes as controls). Other
// control characters stay in the projection, where they are never replaced, so text without
// ESC (and a parser in Ground) is its own projection: the common case costs one indexOf.
const ESC = '\x1b';
// A whole CSI sequence (colours, cursor moves), the most common kind: skipped in one step.
const CSI = /\x1b\[[0-?]*[ -/]*[@-~]/y;

/** One chunk's visible projection: `map[i]` is the index in the chunk of visible char i; null when text and projection are the same. */
export interface Projection {
  vis: string;
  map: Int32Array | null;
}

/** A streaming ECMA-48 parser that projects terminal output onto the characters a reader sees. */
export class VisibleText {
  private state = State.Ground;

  /** True between sequences: a chunk without ESC is then all text. */
  get ground(): boolean {
    return this.state === State.Ground;
  }

  /** Projects one chunk; its state carries into the next call. */
  feed(text: string): Projection {
    if (this.state === State.Ground && !text.includes(ESC)) return { vis: text, map: null };
    const map = new Int32Array(text.length);
    let n = 0;
    const parts: string[] = [];
    let runStart = -1;
    const endRun = (i: number) => {
      if (runStart >= 0) {
        parts.push(text.slice(runStart, i));
        runStart = -1;
      }
    };
    for (let i = 0; i < text.length; i++) {
      // Text between sequences is taken a run at a time, up to the next ESC.
      if (this.state === State.Ground && runStart < 0) {
        const esc = text.indexOf(ESC, i);
        const end = esc < 0 ? text.length : esc;
        if (end > i) {
          parts.push(text.slice(i, end));
          for (let k = i; k < end; k++) map[n++] = k;
          i = end;
          if (i >= text.length) break;
        }
      }
      if (this.state === State.Ground) {
        CSI.lastIndex = i;
        if (CSI.test(text)) {
          i = CSI.lastIndex - 1;
          continue;
        }
      }
      const c = text.charCodeAt(i);
      let visible = false;
      // A line feed that stands for a payload's start or end (see the file comment).
      let boundary = false;
      switch (this.state) {
        case State.Ground:
          if (c === 0x1b) this.state = State.Esc;
          else visible = true;
          break;
        case State.Esc:
          this.state = escape(c);
          boundary = this.state === State.Osc;
          break;
        case State.EscIntermediate:
          if (c === 0x1b) this.state = State.Esc;
          else if (c >= 0x30 || c === 0x18 || c === 0x1a) this.state = State.Ground;
          break;
        case State.Csi:
          if (c === 0x1b) this.state = State.Esc;
          else if ((c >= 0x40 && c <= 0x7e) || c === 0x18 || c === 0x1a || c > 0x7f) this.state = State.Ground;
          break;
        case State.Osc:
          if (c === 0x07 || c === 0x18 || c === 0x1a) {
            this.state = State.Ground;
            boundary = true;
          } else if (c === 0x1b) this.state = State.OscEsc;
          else visible = c >= 0x20 && c !== 0x7f;
          break;
        case State.Str:
          if (c === 0x07 || c === 0x18 || c === 0x1a) this.state = State.Ground;
          else if (c === 0x1b) this.state = State.StrEsc;
          break;
        case State.OscEsc:
          boundary = true;
          this.state = c === 0x5c ? State.Ground : escape(c);
          break;
        case State.StrEsc:
          // ESC \ is the string terminator; any other ESC x starts a new sequence.
          this.state = c === 0x5c ? State.Ground : escape(c);
          break;
      }
      if (visible) {
        if (runStart < 0) runStart = i;
        map[n++] = i;
      } else {
        endRun(i);
        if (boundary) {
          parts.push('\n');
          map[n++] = i;
        }
      }
    }
    endRun(text.length);
    return { vis: parts.join(''), map: map.subarray(0, n) };
  }
}

function escape(c: number): State {
  if (c === 0x5b) return State.Csi; // [
  if (c === 0x5d) return State.Osc; // ]
  if (c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) return State.Str; // P X ^ _
  if (c === 0x1b) return State.Esc;
  if (c >= 0x20 && c <= 0x2f) return State.EscIntermediate;
  return State.Ground;
}
