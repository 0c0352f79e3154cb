import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';

const { utils } = ssh2;
import { TeamsshError } from '../errors.js';

/**
 * Reads the server's host key, generating an ed25519 key there (mode 0600) on first start.
 * The file is created with O_EXCL so two processes starting at once cannot both write one.
 */
export async function loadHostKey(file: string): Promise<Buffer> {
  try {
    return await readAndCheck(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const pem = generateEd25519();
  try {
    const fh = await open(file, 'wx', 0o600);
    try {
      await fh.writeFile(pem);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new TeamsshError('ERR_HOST_KEY', `cannot create host key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  return readAndCheck(file);
}

async function readAndCheck(file: string): Promise<Buffer> {
  const data = await readFile(file);
  const parsed = utils.parseKey(data);
  if (parsed instanceof Error || (Array.isArray(parsed) ? !parsed[0]?.isPrivateKey() : !parsed.isPrivateKey())) {
    throw new TeamsshError('ERR_HOST_KEY', `host key ${file} is not an unencrypted private key`);
  }
  return data;
}

/**
 * ssh2's generator writes a malformed key when the public key starts with a zero byte
 * (about 1 in 256: it is trimmed like an mpint). Regenerate until ssh2 can read its own key.
 */
function generateEd25519(): string {
  for (;;) {
    const { private: pem } = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pem) instanceof Error)) return pem;
  }
}
