import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';

/**
 * The temporary files of the recording side's atomic writes (write, then rename over the final
 * name): the sidecars (src/recording/sidecar.ts) and the signature (src/recording/recording-signer.ts)
 * go through `.FINAL.<pid>.<8 hex>.tmp`. A kill -9 between the write and the rename leaves one
 * behind; recovery removes those at start (docs/recordings-layout.md). The name is made and
 * recognised here only, so the two cannot drift apart.
 */

// `.FINAL.<pid>[.<8 hex>].tmp` for the FINALs the recording side writes atomically (NAME.cast.sig,
// NAME.part.json, NAME.json), NAME captured; before this module the signature's had no random
// part. The FINALs are spelled out: a greedy `(.+)\.\d+` took an all-digit random part (one
// name in ~40) for the pid.
const TEMP = /^\.(.+?)(?:\.cast\.sig|\.part\.json|\.json)\.\d+(?:\.[0-9a-f]{8})?\.tmp$/;

/** Path of the temporary file an atomic write of `file` goes through, in `tmpDir` (same filesystem). */
export function tempPathFor(file: string, tmpDir = path.dirname(file)): string {
  return path.join(tmpDir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** The recording (file stem) whose sidecar or signature write left `name` behind; undefined for any other name. */
export function tempOwner(name: string): string | undefined {
  return TEMP.exec(name)?.[1];
}

/**
 * Removes from `dir` the temporary files of atomic writes that belong to no live recording, and
 * logs their names. Only for directories no other process writes such files in while this
 * runs: live/ and the top of the recordings directory at `serve` start (the uploader writes its
 * own in uploaded/, failed/ and .parts/, never at the top).
 */
export async function removeLeftoverTemps(dir: string, names: readonly string[], isLive: (name: string) => boolean, log: Logger): Promise<string[]> {
  const removed: string[] = [];
  for (const f of names) {
    const owner = tempOwner(f);
    if (owner === undefined || isLive(owner)) continue;
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
