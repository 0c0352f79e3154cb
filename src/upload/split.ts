import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { promises as fs } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TeamsshError } from '../errors.js';

/**
 * Splits an asciicast v2 recording that is too large for the server into consecutive parts,
 * each a valid recording under a byte limit: the original header with ` (part N/M)` added to
 * the title, and at least one event. It streams line by line from disk in two passes (plan,
 * then write) so a recording of any size never sits in memory.
 *
 * Times are rebased: each part starts at its first event's time = 0, so a part plays without
 * a long blank lead-in. The original offset is reported as `start` for the sidecar. Event
 * data is copied byte for byte; only the leading time number is rewritten.
 */

/** One written part. */
export interface CastPart {
  /** 1-based number of this part in the whole recording. */
  index: number;
  /** Number of parts of the whole recording. */
  total: number;
  path: string;
  bytes: number;
  events: number;
  title: string;
  /** Original time (seconds) of this part's first event. */
  start: number;
}

/** What to split and how. */
export interface SplitOptions {
  file: string;
  /** Work directory for the part files; emptied first. */
  workDir: string;
  /** Upper bound on each part file's size in bytes. */
  limit: number;
  /** Title the parts are named after; defaults to the header's title. */
  baseTitle?: string | undefined;
  /** Events already uploaded as earlier parts (resume after a crash or a smaller server limit). */
  skipEvents?: number;
  /** Parts already uploaded; numbering continues after them. */
  partsBefore?: number;
}

/** Longest title the server keeps. */
export const MAX_TITLE = 128;

/** `base` with ` (part N/M)` appended, cut so the whole stays within the server's 128 characters. */
export function partTitle(base: string, n: number, m: number): string {
  const suffix = ` (part ${n}/${m})`;
  const room = Math.max(0, MAX_TITLE - suffix.length);
  const chars = Array.from(base); // cut on characters, never inside a surrogate pair
  return (chars.length > room ? chars.slice(0, room).join('') : base) + suffix;
}

interface Plan {
  header: Record<string, unknown>;
  sizes: number[];
}

/** Splits `opts.file` into part files; throws ERR_UPLOAD_SPLIT when it cannot (bad header, an event larger than the limit). */
export async function splitCast(opts: SplitOptions): Promise<CastPart[]> {
  const before = opts.partsBefore ?? 0;
  const plan = await walk(opts, undefined);
  const total = before + plan.sizes.length;
  await fs.rm(opts.workDir, { recursive: true, force: true });
  await fs.mkdir(opts.workDir, { recursive: true, mode: 0o700 });
  const headerTitle = typeof plan.header.title === 'string' ? plan.header.title : '';
  const writer = new PartWriter(plan.header, opts.workDir, opts.baseTitle ?? headerTitle, before, total);
  await walk(opts, writer);
  return writer.done();
}

const TIME = /^\[\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*,/;

/** Rewrites the event's time relative to `t0`; lines we cannot read are kept as they are. */
function rebase(line: string, t0: number): string {
  const m = TIME.exec(line);
  if (!m) return line;
  const t = Math.round((Number(m[1]) - t0) * 1e6) / 1e6;
  return `[${t},${line.slice(m[0].length)}`;
}

function eventTime(line: string): number {
  const m = TIME.exec(line);
  return m ? Number(m[1]) : 0;
}

/** One pass over the file: decides part boundaries by size (plan) and, with a writer, writes them. */
async function walk(opts: SplitOptions, writer: PartWriter | undefined): Promise<Plan> {
  const rl = createInterface({ input: createReadStream(opts.file, { highWaterMark: 256 * 1024 }), crlfDelay: Infinity });
  let header: Record<string, unknown> | undefined;
  let headerBound = 0;
  const sizes: number[] = [];
  let skip = opts.skipEvents ?? 0;
  let cur = 0; // bytes of the current part, header included; 0 = no part open
  let t0 = 0;
  try {
    for await (const raw of rl) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (header === undefined) {
        header = parseHeader(line);
        // Worst case: the whole base title plus the longest suffix we could ever append.
        const base = opts.baseTitle ?? (typeof header.title === 'string' ? header.title : '');
        const bound = { ...header, title: `${base} (part 9999999/9999999)` };
        headerBound = Buffer.byteLength(JSON.stringify(bound)) + 1;
        continue;
      }
      if (line.trim() === '') continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (cur > 0) {
        const n = Buffer.byteLength(rebase(line, t0)) + 1;
        if (cur + n <= opts.limit) {
          cur += n;
          sizes[sizes.length - 1]! += 1;
          if (writer) await writer.event(rebase(line, t0));
          continue;
        }
      }
      t0 = eventTime(line);
      const first = rebase(line, t0);
      const n = Buffer.byteLength(first) + 1;
      if (headerBound + n > opts.limit) {
        throw new TeamsshError('ERR_UPLOAD_SPLIT', `an event of ${n} bytes does not fit in a part of ${opts.limit} bytes`);
      }
      cur = headerBound + n;
      sizes.push(1);
      if (writer) await writer.open(t0, first);
    }
  } finally {
    rl.close();
  }
  if (header === undefined) throw new TeamsshError('ERR_UPLOAD_SPLIT', 'the recording is empty');
  return { header, sizes };
}

function parseHeader(line: string): Record<string, unknown> {
  let h: unknown;
  try {
    h = JSON.parse(line);
  } catch {
    throw new TeamsshError('ERR_UPLOAD_SPLIT', 'the first line is not an asciicast header');
  }
  if (!h || typeof h !== 'object' || Array.isArray(h)) throw new TeamsshError('ERR_UPLOAD_SPLIT', 'the first line is not an asciicast header');
  return h as Record<string, unknown>;
}

/** Writes part files with exact headers (the plan pass already knows how many there are). */
class PartWriter {
  private ws: WriteStream | undefined;
  private readonly parts: CastPart[] = [];

  constructor(
    private readonly header: Record<string, unknown>,
    private readonly workDir: string,
    private readonly baseTitle: string,
    private readonly before: number,
    private readonly total: number,
  ) {}

  async open(start: number, firstLine: string): Promise<void> {
    await this.close();
    const index = this.before + this.parts.length + 1;
    const title = partTitle(this.baseTitle, index, this.total);
    const file = path.join(this.workDir, `part-${String(index).padStart(4, '0')}.cast`);
    this.ws = createWriteStream(file, { mode: 0o600 });
    const head = `${JSON.stringify({ ...this.header, title })}\n`;
    this.parts.push({ index, total: this.total, path: file, bytes: 0, events: 0, title, start });
    await this.write(head);
    await this.event(firstLine);
  }

  async event(line: string): Promise<void> {
    this.parts[this.parts.length - 1]!.events++;
    await this.write(`${line}\n`);
  }

  async done(): Promise<CastPart[]> {
    await this.close();
    return this.parts;
  }

  private async write(s: string): Promise<void> {
    this.parts[this.parts.length - 1]!.bytes += Buffer.byteLength(s);
    if (!this.ws!.write(s)) await once(this.ws!, 'drain');
  }

  private async close(): Promise<void> {
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = undefined;
    ws.end();
    await once(ws, 'finish');
  }
}
