import { open, mkdir, stat, chmod, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { RecordingError } from './recording-error.js';
import { dirSyncer } from './dir-sync.js';

/** Fsyncs a directory so renames into it survive a power cut; concurrent callers share syncs (src/recording/dir-sync.ts). */
export const fsyncDir: (dir: string) => Promise<void> = dirSyncer();

/**
 * Subdirectory of the recordings directory that holds what exists only while a session is live
 * (NAME.cast.part, NAME.part.json, NAME.cast.sig-chain, temporary files): the top then holds only
 * the upload queue. The uploader's chokidar watcher re-lists the top and lstat()s every entry on
 * each change of it; with 1,000 signed live sessions there that was ~420 ms of CPU per finished
 * recording, ~5 ms with them in live/ (docs/recordings-layout.md).
 */
export const LIVE_DIR = 'live';

/** Path of the live subdirectory of the recordings directory `dir`. */
export function liveDirOf(dir: string): string {
  return join(dir, LIVE_DIR);
}

/**
 * Creates `dir` 0700, tightening it if it is looser: recordings hold everything members typed and
 * saw. With `parents: false` a missing parent stays an error (ENOENT) instead of being made.
 */
export async function privateDir(dir: string, { parents = true }: { parents?: boolean } = {}): Promise<void> {
  await mkdir(dir, { recursive: parents, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    // Only a non-recursive mkdir reports an existing directory; the check below is what counts.
    if (err.code !== 'EEXIST') throw err;
  });
  const st = await stat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if ((st.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/** Builds a recording file stem like 20261123T100000Z-alice-SESSION: sorts by start time, unique per session. */
export function recordingName(start: Date, login: string, sessionId: string): string {
  const stamp = start.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  return `${stamp}-${safePart(login)}-${safePart(sessionId)}`;
}

function safePart(s: string): string {
  // Keeps names portable and path-safe: no '/', '..', spaces or shell metacharacters.
  const cleaned = s.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return cleaned || 'unknown';
}

/** Creates the recordings directory and its live/ (0700, tightened if looser) and proves them writable; throws ERR_REC_DIR. */
export async function ensureRecordingsDir(dir: string): Promise<void> {
  try {
    // Recordings hold everything members typed and saw: nobody else may list or read them.
    await privateDir(dir);
    await privateDir(liveDirOf(dir));
    const probe = join(dir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
    const fh = await open(probe, 'wx', 0o600);
    try {
      await fh.write('probe');
    } finally {
      await fh.close();
      await unlink(probe);
    }
  } catch (err) {
    throw new RecordingError('ERR_REC_DIR', 'the recordings directory is missing or not writable', err);
  }
}
