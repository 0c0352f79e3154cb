import { createHash, randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log.js';

/**
 * The temporary files of atomic writes (write, then rename over the final name): the sidecars
 * (src/recording/sidecar.ts), written by the recording side and by uploaders, and the signature
 * (src/recording/recording-signer.ts) go through `.FINAL.<host>.<pid>.<8 hex>.tmp`. A kill -9
 * between the write and the rename leaves one behind; recovery reads back or removes the
 * recording side's at start, an uploader removes those of dead uploaders at its start
 * (docs/recordings-layout.md). The name is made and parsed here only, so the two cannot drift
 * apart, and it names its writer (host and pid) because several uploaders, on several hosts,
 * may share uploaded/ and failed/.
 */

/** This machine's (or container's) part of claim and temporary file names: a pid means nothing elsewhere. */
export const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

// `.FINAL.<host>.<pid>.<8 hex>.tmp` for the FINALs written atomically (NAME.cast.sig,
// NAME.part.json, NAME.json), NAME captured. Older versions wrote `.FINAL.<pid>.<8 hex>.tmp`,
// and the signature's before that `.FINAL.<pid>.tmp`: both still parse, without a host. The
// segment count tells the forms apart (host, pid and random part are always all three). The
// FINALs are spelled out: a greedy `(.+)\.\d+` took an all-digit random part for the pid.
const TEMP = /^\.(.+?)(\.cast\.sig|\.part\.json|\.json)\.(?:([0-9a-f]{8})\.(\d+)\.[0-9a-f]{8}|(\d+)(?:\.[0-9a-f]{8})?)\.tmp$/;

/** Which final file a temporary file was going to become. */
export type TempKind = 'signature' | 'early sidecar' | 'sidecar';

const KINDS: Record<string, TempKind> = { '.cast.sig': 'signature', '.part.json': 'early sidecar', '.json': 'sidecar' };

/** A parsed temporary file name. */
export interface TempName {
  /** The recording (file stem) it belongs to. */
  owner: string;
  kind: TempKind;
  /** HOST_TAG of the writer; undefined for names from before it was part of them. */
  host: string | undefined;
  pid: number;
}

/** Path of the temporary file an atomic write of `file` goes through, in `tmpDir` (same filesystem). */
export function tempPathFor(file: string, tmpDir = path.dirname(file)): string {
  return path.join(tmpDir, `.${path.basename(file)}.${HOST_TAG}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Parses a name `tempPathFor` made (or an older version did); undefined for any other name. */
export function parseTemp(name: string): TempName | undefined {
  const m = TEMP.exec(name);
  if (!m) return undefined;
  return { owner: m[1]!, kind: KINDS[m[2]!]!, host: m[3], pid: Number(m[4] ?? m[5]) };
}

/** The paths of `kind` temps in `dir`'s listing `files`, by the recording in `owners` they belong to (added to `into`). */
export function tempsByOwner(dir: string, files: readonly string[], owners: ReadonlySet<string>, kind: TempKind, into = new Map<string, string[]>()): Map<string, string[]> {
  for (const f of files) {
    const t = parseTemp(f);
    if (t?.kind !== kind || !owners.has(t.owner)) continue;
    const list = into.get(t.owner) ?? [];
    list.push(path.join(dir, f));
    into.set(t.owner, list);
  }
  return into;
}

/**
 * Removes from `dir` the temporary files of atomic writes that `keep` does not claim, and logs
 * their names. Only for directories no other process writes such files in while this runs:
 * live/ and the top of the recordings directory at `serve` start (the uploader writes its own
 * in uploaded/, failed/ and .parts/, never at the top; src/upload/leftovers.ts cleans those).
 */
export async function removeLeftoverTemps(dir: string, names: readonly string[], keep: (t: TempName, name: string) => boolean, log: Logger): Promise<string[]> {
  const doomed = names.filter((f) => {
    const t = parseTemp(f);
    return t !== undefined && !keep(t, f);
  });
  return removeTemps(dir, doomed, log);
}

/** Removes the named temporary files from `dir` (gone already is fine) and logs the names removed (ERR_REC_LEFTOVER). */
export async function removeTemps(dir: string, names: readonly string[], log: Logger): Promise<string[]> {
  const removed: string[] = [];
  for (const f of names) {
    await unlink(path.join(dir, f)).then(
      () => removed.push(f),
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') log.warn({ file: f, code: 'ERR_REC_LEFTOVER', err }, 'could not remove a temporary file a crash left behind');
      },
    );
  }
  if (removed.length > 0) log.warn({ dir, files: removed, code: 'ERR_REC_LEFTOVER' }, 'removed temporary files a crash left behind');
  return removed;
}

/** Removes temporary files given by path (in one or more directories), logged per directory. */
export async function removeTempPaths(paths: readonly string[], log: Logger): Promise<void> {
  for (const d of new Set(paths.map((p) => path.dirname(p)))) {
    await removeTemps(d, paths.filter((p) => path.dirname(p) === d).map((p) => path.basename(p)), log);
  }
}
