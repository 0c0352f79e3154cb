import { createHash } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import ssh2, { type ParsedKey } from 'ssh2';
import { withKeyObjects } from '../auth/key-object-key.js';
import { TeamsshError } from '../errors.js';

const { utils } = ssh2;

/** A host key as the server uses it and `teamssh check` reports it. */
export interface HostKey {
  file: string;
  /** ssh2's key type: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ... */
  type: string;
  /** The private key file's contents. */
  pem: Buffer;
  /** The parsed key ssh2.Server signs with (`{ key: signer }`), through a KeyObject made once. */
  signer: ParsedKey;
  /** `SHA256:...` as `ssh-keygen -l` and the OpenSSH client print it. */
  fingerprint: string;
}

/** What a missing host key file is generated as, as sshd's `ssh-keygen -A` does. */
type GeneratedType = 'ed25519' | 'ecdsa' | 'rsa';

/**
 * The key type to generate for a missing file, from its name (`ssh_host_rsa_key` is RSA).
 * A name that says nothing gets ed25519, which is what teamssh generated before it knew others.
 */
export function generatedTypeFor(file: string): GeneratedType {
  const name = path.basename(file).toLowerCase();
  if (name.includes('ecdsa')) return 'ecdsa';
  if (name.includes('rsa')) return 'rsa';
  return 'ed25519';
}

/**
 * Reads every host key, generating each missing one (mode 0600, type from its name):
 * ed25519, ECDSA P-256 and RSA 3072 like sshd. An existing file is never rewritten, so a
 * deployment keeps its key and fingerprint.
 */
export async function loadHostKeys(files: readonly string[]): Promise<HostKey[]> {
  const keys: HostKey[] = [];
  for (const file of files) keys.push(await loadHostKey(file));
  const seen = new Map<string, string>();
  for (const k of keys) {
    const other = seen.get(k.type);
    // ssh2 keeps only the first key of each type: a second one would be silently unused.
    if (other) throw new TeamsshError('ERR_HOST_KEY', `host keys ${other} and ${k.file} are both ${k.type}; give one key per type`);
    seen.set(k.type, k.file);
  }
  return keys;
}

/** Reads one host key, generating it there (mode 0600) if it is missing. */
export async function loadHostKey(file: string): Promise<HostKey> {
  try {
    return await readAndCheck(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const pem = await generate(generatedTypeFor(file));
  try {
    // O_EXCL: two processes starting at once cannot both write one.
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

async function readAndCheck(file: string): Promise<HostKey> {
  const pem = await readFile(file);
  const parsed = utils.parseKey(pem);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) {
    throw new TeamsshError('ERR_HOST_KEY', `host key ${file} is not an unencrypted private key`);
  }
  const digest = createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '');
  return { file, type: key.type, pem, signer: withKeyObjects(key), fingerprint: `SHA256:${digest}` };
}

const generateKeyPair = promisify(utils.generateKeyPair) as (type: string, opts: { bits?: number }) => Promise<{ private: string }>;

/**
 * ssh2's generator writes a malformed ed25519 key when the public key starts with a zero
 * byte (about 1 in 256: it is trimmed like an mpint). Regenerate until ssh2 reads its own key.
 */
async function generate(type: GeneratedType): Promise<string> {
  for (;;) {
    const { private: pem } = await generateKeyPair(type, type === 'rsa' ? { bits: 3072 } : type === 'ecdsa' ? { bits: 256 } : {});
    if (!(utils.parseKey(pem) instanceof Error)) return pem;
  }
}
