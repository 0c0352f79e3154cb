import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { parseTemp } from '../recording/temp-files.js';
import { FAILED_DIR, UPLOADED_DIR } from '../recording/sidecar.js';
import { parseClaim, writerGone } from './claims.js';

/**
 * What uploaders killed mid-write leave behind, and its removal. An uploader writes outcome
 * sidecars through `.NAME.json.<host>.<pid>.<random>.tmp` in uploaded/ and failed/, and a split
 * recording's parts and progress sidecar (its temporary file too) in `.parts/NAME/`. A kill -9
 * between a write and its rename leaves the temporary file; one during a split leaves the work
 * directory. Several uploaders may share the recordings directory, so only what provably
 * belongs to no live uploader goes (docs/recordings-layout.md):
 *
 * - a temporary file in uploaded/ or failed/ whose writer is gone as `writerGone` (claims.ts)
 *   decides: this host and its pid no longer runs, or untouched for `staleMs` (from another
 *   host, or named by a version before names carried the host);
 * - `.parts/NAME/` once its writer, the uploader holding the claim on NAME, is no more: when
 *   an uploader claims NAME it is the only one who may write there (`removeParts`), and at
 *   start a work directory whose recording is no longer at the top, neither `NAME.cast` nor
 *   claimed, and untouched for `staleMs`, is an orphan.
 *
 * Removed names are logged with ERR_UPLOAD_LEFTOVER. Nothing here is a recording or a final
 * sidecar: those are never removed.
 */

/** The work directory in which a split recording's parts are written (job.ts). */
export const PARTS_DIR = '.parts';

/** Removes leftovers of dead uploaders in uploaded/, failed/ and .parts/ of `dir`; returns their paths relative to `dir`. */
export async function removeUploaderLeftovers(dir: string, staleMs: number, log: Logger): Promise<string[]> {
  const removed: string[] = [];
  // Housekeeping: a directory that cannot be listed must not keep the uploader from starting.
  await sweep(dir, staleMs, log, removed).catch((err: unknown) => {
    log.warn({ dir, code: 'ERR_UPLOAD_LEFTOVER', err }, 'could not look for files uploaders that are gone left behind');
  });
  if (removed.length > 0) log.warn({ dir, files: removed, code: 'ERR_UPLOAD_LEFTOVER' }, 'removed files uploaders that are gone left behind');
  return removed;
}

async function sweep(dir: string, staleMs: number, log: Logger, removed: string[]): Promise<void> {
  for (const sub of [UPLOADED_DIR, FAILED_DIR]) {
    for (const f of await list(path.join(dir, sub))) {
      const t = parseTemp(f);
      if (!t) continue;
      const file = path.join(dir, sub, f);
      const st = await fs.lstat(file).catch(() => undefined);
      if (!st?.isFile() || !writerGone(t.host, t.pid, st.mtimeMs, staleMs)) continue;
      if (await remove(file, log)) removed.push(path.join(sub, f));
    }
  }
  const work = await list(path.join(dir, PARTS_DIR));
  if (work.length > 0) {
    const atTop = new Set<string>();
    for (const f of await list(dir)) {
      if (f.endsWith('.cast')) atTop.add(f.slice(0, -'.cast'.length));
      const c = parseClaim(f);
      if (c) atTop.add(c.base);
    }
    for (const base of work) {
      if (atTop.has(base)) continue; // whoever takes the dead claim over removes it (removeParts)
      const p = path.join(dir, PARTS_DIR, base);
      const st = await fs.lstat(p).catch(() => undefined);
      // The time bound also covers a claim that a concurrent rename hid from the listing.
      if (!st?.isDirectory() || Date.now() - st.mtimeMs <= staleMs) continue;
      if (await remove(p, log)) removed.push(path.join(PARTS_DIR, base));
    }
  }
}

/**
 * Removes `.parts/NAME/` left by an earlier holder of the claim on NAME; call right after
 * taking over a dead uploader's claim on NAME, when no other uploader may write there. A split
 * empties it anyway; this is for a recording that then goes up whole, or whose outcome was
 * already written.
 */
export async function removeParts(dir: string, base: string, log: Logger): Promise<void> {
  const p = path.join(dir, PARTS_DIR, base);
  // One lstat per taken-over claim: nearly always there is nothing.
  if (!(await fs.lstat(p).catch(() => undefined))) return;
  if (await remove(p, log)) log.warn({ recording: base, files: [path.join(PARTS_DIR, base)], code: 'ERR_UPLOAD_LEFTOVER' }, 'removed the parts an earlier upload of this recording left behind');
}

async function list(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
    throw err;
  });
}

async function remove(p: string, log: Logger): Promise<boolean> {
  try {
    await fs.rm(p, { recursive: true });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ file: p, code: 'ERR_UPLOAD_LEFTOVER', err }, 'could not remove a file an uploader that is gone left behind');
    return false;
  }
}
