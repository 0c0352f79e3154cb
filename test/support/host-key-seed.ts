import { copyFile, constants, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadHostKey } from '../../src/server/host-key.js';

/**
 * Puts an RSA host key into a test server's fresh state directory, made once per machine by
 * teamssh's own generator: an RSA 3072 key takes seconds on a loaded 2-core machine, and
 * every integration test file starts its own server. The ed25519 and ECDSA keys are still
 * generated per server; test/integration/host-keys.test.ts covers RSA generation itself.
 */
export async function seedRsaHostKey(stateDir: string): Promise<void> {
  const cached = await loadHostKey(path.join(os.tmpdir(), 'teamssh-test-host-keys', 'ssh_host_rsa_key'));
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // COPYFILE_EXCL: a key a test put there itself is never replaced.
  await copyFile(cached.file, path.join(stateDir, 'ssh_host_rsa_key'), constants.COPYFILE_EXCL).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}
