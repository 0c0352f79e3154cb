import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * The recording's sidecar `NAME.json`: written by the recorder, extended here with the upload
 * outcome, and always moved together with the recording. Fields this module does not know are
 * kept as they are.
 */

/** One uploaded part of a split recording. */
export interface UploadedPart {
  url: string;
  bytes: number;
  /** Events in the part: resuming after a crash skips this many. */
  events: number;
  /** Original time of the part's first event (times inside a part are rebased to 0). */
  start: number;
}

/** Why a recording landed in `failed/`. */
export interface UploadFailure {
  status: number;
  type?: string;
  message: string;
  details?: unknown;
  at: string;
}

/** The sidecar fields the uploader reads or writes. */
export interface Sidecar {
  login?: string;
  team?: string;
  fingerprint?: string;
  remoteAddress?: string;
  remotePort?: number;
  sessionId?: string;
  title?: string;
  sha256?: string;
  file?: string;
  bytes?: number;
  uploadedAt?: string;
  url?: string;
  parts?: UploadedPart[];
  /** Part size used for the split, so a resumed split cuts at the same places. */
  partLimit?: number;
  failure?: UploadFailure;
  [key: string]: unknown;
}

/** Subdirectories of the recordings directory. */
export const UPLOADED_DIR = 'uploaded';
/** Where recordings the server will never accept are kept, with the reason in the sidecar. */
export const FAILED_DIR = 'failed';

/** Path of the sidecar of `base` in `dir`. */
export function sidecarPath(dir: string, base: string): string {
  return path.join(dir, `${base}.json`);
}

/** Reads a sidecar; undefined when it does not exist, `{}` (with `corrupt`) when it cannot be parsed. */
export async function readSidecar(file: string): Promise<{ data: Sidecar; corrupt?: string } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return { data: v as Sidecar };
    return { data: {}, corrupt: 'not a JSON object' };
  } catch (err) {
    return { data: {}, corrupt: (err as Error).message };
  }
}

/**
 * Replaces a sidecar atomically (temporary file, fsync, rename), so a crash leaves the old or
 * the new one. `tmpDir` (same filesystem) keeps the temporary file out of the watched directory.
 */
export async function writeSidecar(file: string, data: Sidecar, tmpDir = path.dirname(file)): Promise<void> {
  const tmp = path.join(tmpDir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'w', 0o640);
  try {
    await fh.writeFile(`${JSON.stringify(data, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

/**
 * Moves a recording and its sidecar into `sub` (uploaded/ or failed/). The sidecar goes first,
 * written there with `data` (the outcome): after a crash in between, the claimed recording is
 * found again and the sidecar in `sub` tells that the work is already done. Without `data`
 * the sidecar is already there. With `dropCast` the recording is deleted instead of moved.
 */
export async function moveRecording(dir: string, base: string, castPath: string, sub: string, data: Sidecar | undefined, dropCast = false): Promise<string> {
  const target = path.join(dir, sub);
  await fs.mkdir(target, { recursive: true });
  if (data) await writeSidecar(path.join(target, `${base}.json`), data);
  // Without `data` a root sidecar can still be there (the crash came before its unlink); the one in `sub` wins.
  await fs.unlink(sidecarPath(dir, base)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const dest = path.join(target, `${base}.cast`);
  if (dropCast) await fs.unlink(castPath);
  else await fs.rename(castPath, dest);
  return dest;
}
