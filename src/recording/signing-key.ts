import { createHash } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { TeamsshError } from '../errors.js';
import { withKeyObjects } from '../auth/key-object-key.js';
import type { SshSigner } from './sshsig.js';

/**
 * The recording-signing key: an ed25519 key in OpenSSH format, separate from the host keys so
 * it can be rotated on its own and handed to reviewers as an `allowed_signers` line. Generated
 * the way the host keys are (src/server/host-key.ts): ssh2's generator, mode 0600, O_EXCL.
 */

const { utils } = ssh2;

/** The namespace every recording signature is made in (`ssh-keygen -Y verify -n`). */
export const RECORDING_NAMESPACE = 'teamssh-recording@v1';
/** The principal the README's allowed_signers line and `ssh-keygen -Y verify -I` use. */
export const SIGNER_IDENTITY = 'teamssh';

/** A loaded signing key. */
export interface SigningKey {
  file: string;
  signer: SshSigner;
  /** The public key blob, as it appears inside every signature. */
  publicBlob: Buffer;
  /** `ssh-ed25519 AAAA… teamssh-recording-signing`: the .pub line. */
  publicLine: string;
  /** `SHA256:…` as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** Reads the signing key, generating it (mode 0600) when the file does not exist; throws ERR_SIGNING_KEY. */
export async function loadSigningKey(file: string, { create = true }: { create?: boolean } = {}): Promise<SigningKey> {
  try {
    return await readKey(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!create) throw new TeamsshError('ERR_SIGNING_KEY', `recording-signing key ${file} does not exist`, { cause: err });
  }
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // O_EXCL: a server and an uploader starting together cannot both write one.
    const fh = await open(file, 'wx', 0o600);
    try {
      await fh.writeFile(await generate());
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new TeamsshError('ERR_SIGNING_KEY', `cannot create recording-signing key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  return readKey(file);
}

async function readKey(file: string): Promise<SigningKey> {
  const pem = await readFile(file);
  const parsed = utils.parseKey(pem);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey() || key.type !== 'ssh-ed25519') {
    throw new TeamsshError('ERR_SIGNING_KEY', `recording-signing key ${file} is not an unencrypted ed25519 private key`);
  }
  const publicBlob = key.getPublicSSH();
  // ssh2's key.sign() hands crypto.sign a PEM string, parsed again on every call (~770 µs);
  // withKeyObjects signs the same bytes from a KeyObject made once (~46 µs), and with a
  // checkpoint per live session every 30 s that is the difference at 1,000 sessions.
  const signer: SshSigner = withKeyObjects(key);
  return { file, signer, publicBlob, publicLine: publicLineOf(publicBlob), fingerprint: fingerprintOf(publicBlob) };
}

/** `ssh-ed25519 BASE64 teamssh-recording-signing` for a public key blob. */
export function publicLineOf(blob: Buffer): string {
  return `ssh-ed25519 ${blob.toString('base64')} teamssh-recording-signing`;
}

/** The allowed_signers line a reviewer gives `ssh-keygen -Y verify -f`. */
export function allowedSignersLine(blob: Buffer): string {
  return `${SIGNER_IDENTITY} namespaces="${RECORDING_NAMESPACE}" ssh-ed25519 ${blob.toString('base64')}`;
}

/** `SHA256:…` of a public key blob. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The ed25519 public keys named in a text: a `.pub` file, an allowed_signers file or
 * `authorized_keys`, i.e. every `ssh-ed25519 BASE64` pair in it.
 */
export function trustedKeysIn(text: string): Buffer[] {
  const keys: Buffer[] = [];
  for (const m of text.matchAll(/(?:^|\s)ssh-ed25519\s+([A-Za-z0-9+/]+={0,2})/g)) {
    const parsed = utils.parseKey(`ssh-ed25519 ${m[1]}`);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key && !(key instanceof Error)) keys.push(key.getPublicSSH());
  }
  return keys;
}

const generateKeyPair = promisify(utils.generateKeyPair) as (type: string, opts: object) => Promise<{ private: string }>;

/** ssh2 writes a malformed ed25519 key about 1 time in 256 (see host-key.ts): regenerate until it reads. */
async function generate(): Promise<string> {
  for (;;) {
    const { private: pem } = await generateKeyPair('ed25519', {});
    if (!(utils.parseKey(pem) instanceof Error)) return pem;
  }
}
