import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileCallsFor, writeNewFile, type FileCalls } from './file-calls.js';
import { moveSignatureFiles } from './hash-chain.js';
import { tempPathFor } from './temp-files.js';

/**
 * The one owner of the sidecar format, `NAME.json` next to `NAME.cast`: its type, its writer
 * (always mode 0600, atomic), its reader and the hash it records. The session writes who and
 * what (SessionFacts) at start into `NAME.part.json`, the recorder adds the recording's facts
 * at the end, recovery marks crashed recordings, the uploader adds the outcome. A sidecar
 * always moves together with its recording. Fields this module does not know are kept.
 */

/** Who and what a recording is of; written at session start so a crash still names them. */
export type SessionFacts = {
  sessionId: string;
  login: string;
  /** The configured team that granted the session. */
  team: string | null;
  fingerprint: string;
  remoteAddress: string;
  remotePort: number;
  /** Local account the program ran as. */
  account: string | null;
  kind: 'shell' | 'exec';
  command: string | null;
  handler: string | null;
  startedAt: string;
  teamsshVersion: string;
  /** Title for the asciinema server (the same as the cast header's, at most 128 characters). */
  title: string;
  /** Jump sessions: the target's name, address, account and the host key it presented. */
  target?: string;
  targetHost?: string;
  targetPort?: number;
  targetUser?: string;
  targetHostKey?: string | null;
};

/** Why a session was ended from outside, beyond its end reason: revoked or killed. */
export type EndDetail = {
  /** `revoked`: why the identity no longer holds (not_member, key_removed, unverifiable, ...). */
  revocationReason?: string;
  /** `revoked`: what found it (`webhook`, `revalidation`). */
  revocationTrigger?: string;
  /** `revoked` by a webhook: GitHub's delivery id. */
  deliveryId?: string;
  /** `killed`: the local uid of the operator (and the sudo user behind it). */
  killedByUid?: number;
  killedBySudoUid?: number;
};

/** How the session ended. */
export type SessionOutcome = EndDetail & {
  exitStatus: number | null;
  exitSignal: string | null;
  endReason: string;
  endedAt: string;
};

/** What the recorder (or recovery) knows of the file itself. */
export type RecordingFacts = {
  file: string;
  sha256: string;
  bytes: number;
  events?: number;
  duration?: number;
  /** False when the recording was recovered after a crash. */
  complete: boolean;
  version: 2;
  /** Why a recording is incomplete or corrupt. */
  reason?: string;
  corrupt?: boolean;
  recoveredAt?: string;
};

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

/** What the uploader adds. */
export type UploadFacts = {
  uploadedAt: string;
  url: string;
  parts: UploadedPart[];
  /** Part size used for the split, so a resumed split cuts at the same places. */
  partLimit: number;
  failure: UploadFailure;
};

/** A sidecar as read from disk: any of the above (older or damaged files may lack fields). */
export type Sidecar = Partial<SessionFacts & SessionOutcome & RecordingFacts & UploadFacts> & { [key: string]: unknown };

/** Subdirectories of the recordings directory. */
export const UPLOADED_DIR = 'uploaded';
/** Where recordings the server will never accept are kept, with the reason in the sidecar. */
export const FAILED_DIR = 'failed';

/** Path of the sidecar of `base` in `dir`. */
export function sidecarPath(dir: string, base: string): string {
  return path.join(dir, `${base}.json`);
}

/** Path of the early sidecar a live session writes at start (`NAME.part.json`). */
export function partSidecarPath(dir: string, base: string): string {
  return path.join(dir, `${base}.part.json`);
}

/** Reads a sidecar; undefined when it does not exist, `{}` (with `corrupt`) when it cannot be parsed. */
export async function readSidecar(file: string): Promise<{ data: Sidecar; corrupt?: string } | undefined> {
  let text: string;
  try {
    text = (await (await fileCallsFor(path.dirname(file))).readSmall(file)).toString('utf8');
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
 * Replaces a sidecar atomically (temporary file, rename), mode 0600 like the recording it
 * describes, so a crash leaves the old or the new one. `durable` (default) fsyncs before the
 * rename, so it survives a power cut; the early sidecar skips that (it only has to survive a
 * crash of teamssh, and it is on the login path). `tmpDir` (same filesystem) keeps the
 * temporary file out of a watched directory. The calls are made as `calls` (default: as suits
 * `tmpDir`'s filesystem, src/recording/file-calls.ts) says.
 */
export async function writeSidecar(file: string, data: Sidecar, { durable = true, tmpDir = path.dirname(file), calls }: { durable?: boolean; tmpDir?: string; calls?: FileCalls } = {}): Promise<void> {
  const c = calls ?? (await fileCallsFor(tmpDir));
  const tmp = tempPathFor(file, tmpDir);
  // A new file (the name is random) is created 0600 minus the umask: never readable by anyone
  // else. No fchmod after it: one more call, three times per session.
  await writeNewFile(c, tmp, `${JSON.stringify(data, null, 2)}\n`, { durable });
  await c.rename(tmp, file);
}

/** The SHA-256 (hex) a sidecar records for its recording: of the file's bytes, as uploaded. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await fs.open(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = (await fh.read(chunk, 0, chunk.length, null)).bytesRead) > 0; ) hash.update(chunk.subarray(0, n));
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/**
 * Moves a recording and its sidecar into `sub` (uploaded/ or failed/). The sidecar goes first,
 * written there with `data` (the outcome): after a crash in between, the claimed recording is
 * found again and the sidecar in `sub` tells that the work is already done. Without `data`
 * the sidecar is already there. With `dropCast` the recording is deleted instead of moved.
 */
export async function moveRecording(dir: string, base: string, castPath: string, sub: string, data: Sidecar | undefined, dropCast = false): Promise<string> {
  const target = path.join(dir, sub);
  // The calls of the top's filesystem: `sub` is on it (the moves are renames).
  const calls = await fileCallsFor(dir);
  await calls.mkdirs(target);
  if (data) await writeSidecar(path.join(target, `${base}.json`), data, { calls });
  // Without `data` a root sidecar can still be there (the crash came before its unlink); the one in `sub` wins.
  await calls.unlink(sidecarPath(dir, base)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const dest = path.join(target, `${base}.cast`);
  // Before the recording: a crash in between leaves it to be found and moved again.
  await moveSignatureFiles(dir, base, target, dropCast, calls);
  if (dropCast) await calls.unlink(castPath);
  else await calls.rename(castPath, dest);
  return dest;
}
