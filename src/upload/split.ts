import { promises as fs } from 'node:fs';
import { TeamsshError } from '../errors.js';
import { sshsigHash, type SigHash } from '../recording/sshsig.js';
import { timeText } from '../recording/json-text.js';
import { isBlank, lineBatches } from '../recording/cast-lines.js';
import { PartWriter, type CastPart } from './part-writer.js';



/**
 * Splits an asciicast v2 recording that is too large for the server into consecutive parts,
 * each a valid recording under a byte limit: the original header with ` (part N/M)` added to
 * the title, and at least one event. It streams the file in two passes (plan, then write) so a
 * recording of any size never sits in memory; the plan pass only finds lines and their times.
 *
 * Times are rebased: each part starts at its first event's time = 0, so a part plays without
 * a long blank lead-in. The original offset is reported as `start` for the sidecar. Event
 * data is copied byte for byte; only the leading time number is rewritten.
 *
 * With `digests`, the write pass also hashes each part as it writes it (SHA-256, what teamssh's
 * SSHSIGs sign), and with `wholeHash` the whole file as it reads it (with the hash the session's
 * signature names: SHA-512 for recordings signed before the switch): the caller checks the whole against the session's
 * signature and signs the parts with no further read, and the check covers exactly the bytes
 * the parts were cut from (a file changed between two reads cannot slip into signed parts).
 */

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
  /** Hash each part (SHA-256) while writing; for signing. */
  digests?: boolean;
  /** Hash the whole file with this while writing; for checking the session's signature. */
  wholeHash?: SigHash | undefined;
}

/** The parts written, and with `wholeHash` the digest of the whole file as the write pass read it. */
export interface SplitResult {
  parts: CastPart[];
  whole: { alg: SigHash; digest: Buffer } | undefined;
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

/** Where the parts go and how they are named; absent in the plan pass. */
interface Output {
  writer: PartWriter;
  baseTitle: string;
  before: number;
  total: number;
}

/** Splits `opts.file` into part files; throws ERR_UPLOAD_SPLIT when it cannot (bad header, an event larger than the limit). */
export async function splitCast(opts: SplitOptions): Promise<SplitResult> {
  const before = opts.partsBefore ?? 0;
  const plan = await walk(opts, undefined);
  const total = before + plan.sizes.length;
  await fs.rm(opts.workDir, { recursive: true, force: true });
  await fs.mkdir(opts.workDir, { recursive: true, mode: 0o700 });
  const headerTitle = typeof plan.header.title === 'string' ? plan.header.title : '';
  const writer = new PartWriter(opts.workDir, opts.digests === true);
  const whole = opts.wholeHash ? sshsigHash(opts.wholeHash) : undefined;
  try {
    await walk(opts, { writer, baseTitle: opts.baseTitle ?? headerTitle, before, total }, whole && ((chunk) => whole.update(chunk)));
    return { parts: await writer.done(), whole: whole && opts.wholeHash ? { alg: opts.wholeHash, digest: whole.digest() } : undefined };
  } finally {
    await writer.release();
  }
}

const TIME = /^\[\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*,/;
// Bytes of a line decoded to find its time: an event's time field is far shorter.
const HEAD = 64;

/** An event's leading time: its value and how many bytes `[ time ,` takes; undefined when the line has none. */
function timeOf(line: Buffer): { t: number; bytes: number } | undefined {
  const fast = plainTime(line);
  if (fast) return fast;
  let m = TIME.exec(line.toString('utf8', 0, Math.min(line.length, HEAD)));
  if (!m && line.length > HEAD) m = TIME.exec(line.toString('utf8'));
  return m ? { t: Number(m[1]), bytes: Buffer.byteLength(m[0]) } : undefined;
}

/**
 * The time as the recorder writes it, `[` digits, up to 6 decimals, `, `, read from the bytes:
 * a line decoded and matched by TIME cost ~2 us, twice per line (plan and write passes), and
 * a split of a recording made of 1 KiB events has ~1M lines per GB. The integer count of
 * microseconds divided by 1e6 is the double nearest the decimal, as Number() reads it (both
 * exact below 2^53). Anything else (spaces, exponents, more decimals) is left to TIME.
 */
function plainTime(line: Buffer): { t: number; bytes: number } | undefined {
  if (line[0] !== 0x5b) return undefined;
  let micros = 0;
  let i = 1;
  for (; i < line.length && i < 17 && line[i]! >= 0x30 && line[i]! <= 0x39; i++) micros = micros * 10 + line[i]! - 0x30;
  if (i === 1 || i === 17) return undefined;
  let decimals = 0;
  if (line[i] === 0x2e) {
    for (i++; i < line.length && line[i]! >= 0x30 && line[i]! <= 0x39; i++, decimals++) micros = micros * 10 + line[i]! - 0x30;
    if (decimals === 0 || decimals > 6) return undefined;
  }
  if (line[i] !== 0x2c || micros >= 2 ** 53 / 1e6) return undefined;
  return { t: (micros * 10 ** (6 - decimals)) / 1e6, bytes: i + 1 };
}

/** The line with its time made relative to `t0`, as the ASCII head to write and the bytes after it. Lines we cannot read are kept as they are. */
function rebase(line: Buffer, time: { t: number; bytes: number } | undefined, t0: number): { head: string; rest: Buffer } {
  if (!time) return { head: '', rest: line };
  return { head: `[${timeText(Math.round((time.t - t0) * 1e6))},`, rest: line.subarray(time.bytes) };
}

/** One pass over the file: decides part boundaries by size (plan) and, with an output, writes them. */
async function walk(opts: SplitOptions, out: Output | undefined, onChunk?: (chunk: Buffer) => void): Promise<Plan> {
  let header: Record<string, unknown> | undefined;
  let headerBound = 0;
  const sizes: number[] = [];
  let skip = opts.skipEvents ?? 0;
  let cur = 0; // bytes of the current part, header included; 0 = no part open
  let t0 = 0;
  for await (const { lines } of lineBatches(opts.file, { onChunk })) {
    for (const line of lines) {
      if (header === undefined) {
        header = parseHeader(line.toString('utf8'));
        // Worst case: the whole base title plus the longest suffix we could ever append.
        const base = opts.baseTitle ?? (typeof header.title === 'string' ? header.title : '');
        const bound = { ...header, title: `${base} (part 9999999/9999999)` };
        headerBound = Buffer.byteLength(JSON.stringify(bound)) + 1;
        continue;
      }
      if (isBlank(line)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      const time = timeOf(line);
      if (cur > 0) {
        const ev = rebase(line, time, t0);
        const n = ev.head.length + ev.rest.length + 1;
        if (cur + n <= opts.limit) {
          cur += n;
          sizes[sizes.length - 1]! += 1;
          out?.writer.event(ev.head, ev.rest);
          continue;
        }
      }
      t0 = time?.t ?? 0;
      const first = rebase(line, time, t0);
      const n = first.head.length + first.rest.length + 1;
      if (headerBound + n > opts.limit) {
        throw new TeamsshError('ERR_UPLOAD_SPLIT', `an event of ${n} bytes does not fit in a part of ${opts.limit} bytes`);
      }
      cur = headerBound + n;
      sizes.push(1);
      if (out) {
        const index = out.before + sizes.length;
        const title = partTitle(out.baseTitle, index, out.total);
        out.writer.open(index, out.total, title, t0, Buffer.from(`${JSON.stringify({ ...header, title })}\n`));
        out.writer.event(first.head, first.rest);
      }
    }
    await out?.writer.flush();
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
