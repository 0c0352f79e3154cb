import fs from 'node:fs';
import path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';

/**
 * Makes this process kill itself with SIGKILL the moment it is about to rename a file whose
 * name matches `pattern`: the honest way to stop a writer between an atomic write and its
 * rename (the crash window of every `.tmp` → final name), with no cooperation from the code
 * under test. Both ways to rename that the code uses are replaced: `fs.promises.rename` (and the
 * `node:fs/promises` binding), and `fs.renameSync` (src/recording/file-calls.ts, on a local
 * filesystem).
 */
export function killAtRename(pattern: RegExp): void {
  const dies = (from: fs.PathLike) => {
    if (pattern.test(path.basename(String(from)))) process.kill(process.pid, 'SIGKILL');
  };
  const { renameSync } = fs;
  const renamePromise = fs.promises.rename;
  fs.promises.rename = async (from: fs.PathLike, to: fs.PathLike): Promise<void> => {
    dies(from);
    return renamePromise(from, to);
  };
  fs.renameSync = (from: fs.PathLike, to: fs.PathLike): void => {
    dies(from);
    renameSync(from, to);
  };
  syncBuiltinESMExports();
}
