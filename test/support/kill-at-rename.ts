import fs from 'node:fs';
import path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';

/**
 * Makes this process kill itself with SIGKILL the moment it is about to rename a file whose
 * name matches `pattern`: the honest way to stop a writer between an atomic write and its
 * rename (the crash window of every `.tmp` → final name), with no cooperation from the code
 * under test. Both `fs.promises.rename` and the `node:fs/promises` binding are replaced.
 */
export function killAtRename(pattern: RegExp): void {
  const rename = fs.promises.rename;
  fs.promises.rename = async (from: fs.PathLike, to: fs.PathLike): Promise<void> => {
    if (pattern.test(path.basename(String(from)))) process.kill(process.pid, 'SIGKILL');
    return rename(from, to);
  };
  syncBuiltinESMExports();
}
