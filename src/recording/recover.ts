import { open, readdir, rename, stat, truncate, unlink, appendFile } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { basename, join } from 'node:path';
import type { Logger } from '../log.js';
import { chainPathOf } from './hash-chain.js';
import { fsyncDir, liveDirOf } from './recordings-dir.js';
import { hashFile, partSidecarPath, readSidecar, sidecarPath, writeSidecar, type Sidecar } from './sidecar.js';
import { removeLeftoverTemps, removeTempPaths, tempsByOwner } from './temp-files.js';
import { readBackSidecar } from './finish-readback.js';
import { readBackSignature } from './signature-readback.js';
import { lineBatches } from './cast-lines.js';

/** Why a recording was finalised by recovery rather than by its session. */
export const CRASH_REASON = 'server stopped before the session ended (crash or kill)';
/** Why, when the session had ended and its outcome was read back, but not its whole sidecar. */
export const FINISH_CRASH_REASON = 'server stopped while the recording was being finished (crash or kill); how the session ended was read back from its interrupted sidecar write';
/** Why, when the recording was whole and signed but nothing of how the session ended was on disk. */
export const SIGNED_CRASH_REASON = 'server stopped while the recording was being finished (crash or kill); the recording is whole and signed, how the session ended is unknown';

/** One `.part` that recovery acted on, and what it concluded. */
export interface RecoveredRecording {
  name: string;
  reason: string;
}

const PART = '.cast.part';
// The rewrite copy is written in pieces of this size.
const REWRITE_CHUNK = 1 << 20;

/**
 * Finalises every NAME.cast.part left by a previous run (no live session) in live/ and, from
 * the layout before live/ existed, at the top of `dir`: the torn last line is dropped, a
 * recording without events gets one, the sidecar says `complete: false` and why, and the file
 * is renamed to NAME.cast at the top so it ships like any other. A file whose header is
 * unreadable becomes NAME.cast.corrupt with a sidecar: recovery never deletes session data.
 * Temporary files of sidecar and signature writes a crash cut short are removed (logged by name);
 * a sidecar's is read back first: it may hold how the session ended (finish-readback.ts).
 */
export async function recoverPartials(
  dir: string,
  logger: Logger,
  isLive: (name: string) => boolean = () => false,
): Promise<RecoveredRecording[]> {
  const results: RecoveredRecording[] = [];
  // live/ first: it is where this version writes; a missing one (never started) holds nothing.
  const live = liveDirOf(dir);
  const listLive = () =>
    readdir(live).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
  await recoverIn(dir, live, await listLive(), await readdir(dir), logger, isLive, results);
  await recoverIn(dir, dir, await readdir(dir), await listLive(), logger, isLive, results);
  return results;
}

/** Recovers the .part files of `from` (live/ or the top of `dir`) into `dir`; `other` lists the other of the two. */
async function recoverIn(dir: string, from: string, files: string[], other: string[], logger: Logger, isLive: (name: string) => boolean, results: RecoveredRecording[]): Promise<void> {
  const present = new Set(files);
  const partsOf = (list: string[]) => list.filter((x) => x.endsWith(PART)).map((x) => x.slice(0, -PART.length)).filter((n) => !isLive(n));
  const here = new Set(partsOf(files));
  const pending = new Set([...here, ...partsOf(other)]);
  // The temps of a finish cut short may hold how the session ended and the signature: read back
  // by the recording's recovery (in live/, or at the top from older versions and recovery's own
  // writes), removed once its sidecar is written.
  // So may an early sidecar's temp: a kill -9 inside Recorder.create, before its rename.
  const [sidecars, signatures, earlies] = (['sidecar', 'signature', 'early sidecar'] as const).map((kind) => {
    const found = tempsByOwner(from, files, here, kind);
    return from === dir ? found : tempsByOwner(dir, other, here, kind, found);
  }) as [Map<string, string[]>, Map<string, string[]>, Map<string, string[]>];
  // Temps of no recording left: their final files hold what counts.
  await removeLeftoverTemps(from, files, (t) => isLive(t.owner) || pending.has(t.owner), logger);
  for (const f of files) {
    // A rewrite copy that never replaced its .part: the .part still holds everything.
    if (f.endsWith(`${PART}.tmp`) && !isLive(f.slice(0, -`${PART}.tmp`.length))) await unlink(join(from, f)).catch(() => {});
    // Early identity fields of a finished recording: its NAME.json already holds them.
    const metaOf = f.endsWith('.part.json') ? f.slice(0, -'.part.json'.length) : undefined;
    if (metaOf !== undefined && !present.has(metaOf + PART) && !isLive(metaOf)) await unlink(join(from, f)).catch(() => {});
  }
  for (const f of files.filter((x) => x.endsWith(PART)).sort()) {
    const name = f.slice(0, -PART.length);
    if (isLive(name)) continue;
    try {
      results.push(await recoverOne(dir, from, name, logger, { sidecar: sidecars.get(name) ?? [], signature: signatures.get(name) ?? [], early: earlies.get(name) ?? [] }));
    } catch (err) {
      logger.error({ recording: name, code: 'ERR_REC_RECOVER', err }, 'partial recording could not be recovered; left in place');
      results.push({ name, reason: 'recovery failed; left as .part' });
    }
  }
}

/** Recovers one .part; `temps` are what its start and finish left (early sidecar, sidecar and signature temps): read back, then removed. */
async function recoverOne(dir: string, from: string, name: string, log: Logger, temps: { sidecar: string[]; signature: string[]; early: string[] }): Promise<RecoveredRecording> {
  const part = join(from, name + PART);
  const cast = join(dir, `${name}.cast`);
  const metaPath = partSidecarPath(from, name);
  const sidecar = sidecarPath(dir, name);
  if (await exists(cast)) {
    const reason = `${name}.cast already exists; .part left in place for an operator`;
    log.error({ recording: name, code: 'ERR_REC_CONFLICT' }, reason);
    return { name, reason };
  }
  const meta = (await readSidecarLenient(metaPath)) ?? (await readEarlyTemp(temps.early, log));
  const prior = await readSidecarLenient(sidecar);
  const scan = new PartScan();
  const size = await forEachLine(part, (line, terminated) => scan.feed(line, terminated));
  const recoveredAt = new Date().toISOString();

  if (!scan.headerOk) {
    const corrupt = await freeName(join(dir, `${name}.cast.corrupt`));
    const sha256 = await hashFile(part);
    const back = await readBackSidecar(temps.sidecar, name, meta?.sessionId, { sha256, bytes: size, changed: true }, log);
    const reason = `${back.usedFile ? FINISH_CRASH_REASON : CRASH_REASON}; the header line is torn or invalid, file kept for inspection`;
    await writeSidecar(sidecar, { ...back.fields, ...meta, ...prior, file: corrupt.slice(dir.length + 1), sha256, bytes: size, complete: false, corrupt: true, version: 2 as const, reason, recoveredAt });
    await moveChain(dir, from, name);
    await rename(part, corrupt);
    await unlink(metaPath).catch(() => {});
    await syncBoth(dir, from);
    await removeTempPaths([...temps.sidecar, ...temps.signature, ...temps.early], log);
    log.error({ recording: name, code: 'ERR_REC_CORRUPT', bytes: size }, 'partial recording has no valid header; kept as .cast.corrupt');
    return { name, reason };
  }

  let changed = false;
  if (scan.droppedInside > 0) {
    await rewriteKeeping(part);
    changed = true;
  } else if (scan.tornTail > 0) {
    await truncate(part, size - scan.tornTail);
    changed = true;
  }
  // A kept last line only lacked its newline; a session without events still needs one (422).
  let suffix = scan.unterminatedKept && scan.droppedInside === 0 ? '\n' : ''; // a rewrite already ended it
  if (scan.events === 0) suffix += '[0, "o", ""]\n';
  if (suffix) {
    await appendFile(part, suffix, { encoding: 'utf8' });
    changed = true;
  }
  const sha256 = await hashFile(part);
  const bytes = (await stat(part)).size;
  const events = scan.events === 0 ? 1 : scan.events;
  const back = await readBackSidecar(temps.sidecar, name, meta?.sessionId, { sha256, bytes, changed }, log);
  // Crash between the sidecar (renamed, or only written) and the rename of a finished session: it is complete as is.
  const wasFinished = back.finished || (!changed && prior?.complete === true && prior.sha256 === sha256);
  // The chain before the signature, as the signer does: a NAME.cast.sig always has its chain.
  await moveChain(dir, from, name);
  // A signature over these very bytes (in place, or only written) means the finish got that far.
  const signed = wasFinished || changed ? undefined : await readBackSignature(temps.signature, part, cast);
  const reason = wasFinished ? 'finished; only the rename to .cast was interrupted' : back.usedFile ? FINISH_CRASH_REASON : signed ? SIGNED_CRASH_REASON : CRASH_REASON;
  const dropped = scan.droppedInside + (scan.tornTail > 0 ? 1 : 0);
  const fields = wasFinished
    ? { file: `${name}.cast`, sha256, bytes, complete: true, version: 2 as const, recoveredAt }
    : { ...signed, file: `${name}.cast`, sha256, bytes, events, duration: scan.lastT, complete: false, version: 2 as const, reason, recoveredAt, droppedLines: dropped };
  await writeSidecar(sidecar, { ...back.fields, ...meta, ...prior, ...fields });
  await rename(part, cast);
  await unlink(metaPath).catch(() => {});
  await syncBoth(dir, from);
  // Only now: until the sidecar above is durable, a temp may be the one copy of the outcome.
  await removeTempPaths([...temps.sidecar, ...temps.signature, ...temps.early], log);
  log.warn({ recording: name, code: 'ERR_REC_RECOVERED', complete: wasFinished, droppedLines: dropped, bytes, events, ...(back.usedFile ? { outcomeFrom: back.usedFile } : {}) }, 'partial recording finalised at startup');
  return { name, reason };
}

/**
 * Moves a live recording's checkpoint chain from live/ next to where the recording will be
 * (before the recording, so it is never without it); one already there (a finish interrupted
 * after moving it) or none at all (unsigned) is fine.
 */
async function moveChain(dir: string, from: string, name: string): Promise<void> {
  if (from === dir) return;
  await rename(chainPathOf(join(from, `${name}.cast`)), chainPathOf(join(dir, `${name}.cast`))).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Syncs the top (new names) before live/ (names gone): a power cut can then only leave a duplicate, never a loss. */
async function syncBoth(dir: string, from: string): Promise<void> {
  await fsyncDir(dir);
  if (from !== dir) await fsyncDir(from);
}

/** Classifies the lines of a .part: header first, then events with times that never decrease. */
class PartScan {
  headerOk = false;
  events = 0;
  lastT = 0;
  droppedInside = 0;
  tornTail = 0;
  unterminatedKept = false;
  private first = true;

  /** Returns true when the line is kept. */
  feed(line: Buffer, terminated: boolean): boolean {
    const keep = this.classify(line);
    if (!terminated) {
      // The unterminated last line is the torn write of a crash unless it parses in full.
      if (keep) this.unterminatedKept = true;
      else this.tornTail = line.length;
    } else if (!keep) this.droppedInside++;
    return keep;
  }

  private classify(line: Buffer): boolean {
    if (this.first) {
      this.first = false;
      const h = parse(line);
      this.headerOk = h !== undefined && typeof h === 'object' && h !== null && !Array.isArray(h) && (h as { version?: unknown }).version === 2;
      return this.headerOk;
    }
    if (!this.headerOk) return false;
    if (line.toString('latin1').trim() === '') return true;
    const e = parse(line);
    if (!Array.isArray(e) || e.length !== 3 || typeof e[1] !== 'string' || typeof e[2] !== 'string') return false;
    const t = e[0];
    if (typeof t !== 'number' || !(t >= this.lastT)) return false;
    this.lastT = t;
    this.events++;
    return true;
  }
}

function parse(line: Buffer): unknown {
  if (!isUtf8(line)) return undefined;
  try {
    return JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Copies the kept lines to NAME.cast.part.tmp and renames it over the .part (atomic either way). */
async function rewriteKeeping(part: string): Promise<void> {
  const tmp = `${part}.tmp`;
  const out = await open(tmp, 'w', 0o600);
  try {
    const scan = new PartScan();
    // Kept lines are copied into one buffer per MiB written, not into a Buffer each (the
    // reader's buffer is reused). 100 MB of 80-byte lines with one bad line, CPU of the whole
    // recovery: a Buffer per line 6.3 s (recovery's own reader), 6.8 s (lineBatches, a batch
    // of lines alive at once), this 4.5 s; three alternating runs each, busy machine.
    let buf = Buffer.allocUnsafe(REWRITE_CHUNK);
    let used = 0;
    let pos = 0;
    const writes: Promise<void>[] = [];
    // Positional writes: they may run concurrently in the thread pool and still land in order.
    const flush = (): void => {
      const data = buf.subarray(0, used);
      writes.push(out.write(data, 0, used, pos).then(({ bytesWritten }) => {
        if (bytesWritten !== data.length) throw new Error(`short write while rewriting ${part}`);
      }));
      pos += used;
      buf = Buffer.allocUnsafe(REWRITE_CHUNK);
      used = 0;
    };
    await forEachLine(part, (line, terminated) => {
      if (!scan.feed(line, terminated)) return;
      if (used + line.length + 1 > buf.length) {
        if (used > 0) flush();
        if (line.length + 1 > buf.length) buf = Buffer.allocUnsafe(line.length + 1);
      }
      used += line.copy(buf, used);
      buf[used++] = 0x0a;
    });
    if (used > 0) flush();
    await Promise.all(writes);
    await out.sync();
  } finally {
    await out.close();
  }
  await rename(tmp, part);
}

/** Calls `cb` with each line of `path` (bytes exactly as in the file, without the `\n`) and whether a newline ends it; returns the file's size. */
async function forEachLine(path: string, cb: (line: Buffer, terminated: boolean) => unknown): Promise<number> {
  let size = 0;
  for await (const { lines, unterminated } of lineBatches(path, { keepCr: true, onChunk: (c) => (size += c.length) })) {
    for (const line of lines) cb(line, !unterminated);
  }
  return size;
}

/** Reads a sidecar; a torn provisional sidecar is worth less than the recording: recover without it. */
/**
 * Who the session was, from the temp of an early sidecar whose rename a kill -9 cut off (the
 * write returned before it, so the page cache holds it whole; a temp cut before its write is
 * empty). Used only when it is a JSON object naming a session and a login, as every early
 * sidecar does; otherwise logged (never its content) and left to be removed.
 */
async function readEarlyTemp(paths: readonly string[], log: Logger): Promise<Sidecar | undefined> {
  for (const p of paths) {
    const data = await readSidecarLenient(p);
    if (typeof data?.sessionId === 'string' && typeof data.login === 'string') return data;
    log.warn({ file: basename(p), code: 'ERR_REC_LEFTOVER', problem: data ? 'names no session and login' : 'not a JSON object' }, 'a temporary early sidecar a crash left is not whole; not used');
  }
  return undefined;
}

async function readSidecarLenient(path: string): Promise<Sidecar | undefined> {
  const r = await readSidecar(path).catch(() => undefined);
  return r && !r.corrupt ? r.data : undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function freeName(path: string): Promise<string> {
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? path : `${path}.${i}`;
    if (!(await exists(candidate))) return candidate;
  }
}
