import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { READ_CHUNK } from './cast-lines.js';

/**
 * SSHSIG, the signature format of `ssh-keygen -Y sign` (PROTOCOL.sshsig in OpenSSH; summarised
 * in docs/external-systems.md §8). Only what teamssh needs: ed25519 keys and the two hashes the
 * format allows, sha256 and sha512; `ssh-keygen -Y verify` checks both with no teamssh code
 * involved.
 *
 * New signatures use sha256 (`SIGN_HASH`), not `ssh-keygen -Y sign`'s default sha512: with
 * SHA-NI this machine hashes 1,384 MB/s of SHA-256 against 361 MB/s of SHA-512, and every byte
 * of a recording is hashed for its signature by the session and again by the uploader (whole
 * file and parts). Signatures made with sha512 (recordings from before the switch) still verify.
 */

const MAGIC = Buffer.from('SSHSIG');
const VERSION = 1;

/** The hashes an SSHSIG may be made with (PROTOCOL.sshsig). */
export type SigHash = 'sha256' | 'sha512';
/** The hash of every signature teamssh makes now. */
export const SIGN_HASH: SigHash = 'sha256';
const DIGEST_BYTES: Record<SigHash, number> = { sha256: 32, sha512: 64 };
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';

/** The key half that signs: ssh2's parsed private key. */
export interface SshSigner {
  /** The public key blob (`string("ssh-ed25519") || string(pk)`). */
  getPublicSSH(): Buffer;
  sign(data: Buffer): Buffer | Error;
}

/** The fields of a parsed SSHSIG blob. */
export interface SshSig {
  publicKey: Buffer;
  namespace: string;
  hashAlg: string;
  /** The SSH signature encoding: `string("ssh-ed25519") || string(64 bytes)`. */
  signature: Buffer;
}

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** What the key actually signs: the magic preamble, the namespace and the message's hash. */
function signedData(namespace: string, hashAlg: string, digest: Buffer): Buffer {
  return Buffer.concat([MAGIC, sshString(namespace), sshString(''), sshString(hashAlg), sshString(digest)]);
}

/** The hash SSHSIG takes of a message before signing (`SIGN_HASH` unless told); feed it with `update`. */
export function sshsigHash(alg: SigHash = SIGN_HASH): ReturnType<typeof createHash> {
  return createHash(alg);
}

/** Digest (`alg`) of a whole file, as SSHSIG hashes a message, read in pieces of up to 1 MiB. */
export async function fileDigest(file: string, alg: SigHash): Promise<Buffer> {
  const h = sshsigHash(alg);
  const fh = await open(file, 'r');
  try {
    // Most recordings are small: 1 MiB of memory per check would only feed the garbage collector.
    const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(READ_CHUNK, (await fh.stat()).size)));
    for (let n; (n = (await fh.read(chunk, 0, chunk.length, null)).bytesRead) > 0; ) h.update(chunk.subarray(0, n));
  } finally {
    await fh.close();
  }
  return h.digest();
}

/** Which SSHSIG hash `digest` is, told by its length; throws for any other length. */
function digestHash(digest: Buffer): SigHash {
  if (digest.length === DIGEST_BYTES.sha256) return 'sha256';
  if (digest.length === DIGEST_BYTES.sha512) return 'sha512';
  throw new Error(`not a SHA-256 or SHA-512 digest (${digest.length} bytes)`);
}

/** Signs a message given as its SHA-256 (or SHA-512) digest, named in the blob by its length; returns the binary SSHSIG blob. */
export function signDigest(key: SshSigner, namespace: string, digest: Buffer): Buffer {
  const alg = digestHash(digest);
  const raw = key.sign(signedData(namespace, alg, digest));
  if (raw instanceof Error) throw raw;
  const version = Buffer.alloc(4);
  version.writeUInt32BE(VERSION);
  const signature = Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]);
  return Buffer.concat([MAGIC, version, sshString(key.getPublicSSH()), sshString(namespace), sshString(''), sshString(alg), sshString(signature)]);
}

/** Signs a whole message held in memory (a checkpoint line); returns the binary SSHSIG blob. */
export function signMessage(key: SshSigner, namespace: string, message: Buffer | string): Buffer {
  return signDigest(key, namespace, sshsigHash().update(message).digest());
}

/** The armored form `ssh-keygen -Y sign` writes: base64 in lines of 70 between BEGIN/END lines. */
export function armor(blob: Buffer): string {
  const b64 = blob.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

/** Extracts the blob from armored text (the first BEGIN/END block in it); undefined if there is none. */
export function dearmor(text: string): Buffer | undefined {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END, start + 1);
  if (start < 0 || end < 0) return undefined;
  return Buffer.from(text.slice(start + BEGIN.length, end).replace(/\s+/g, ''), 'base64');
}

/** Parses a binary SSHSIG blob; undefined when it is not one (wrong magic, version, lengths). */
export function parseSshSig(blob: Buffer): SshSig | undefined {
  if (blob.length < 10 || !blob.subarray(0, 6).equals(MAGIC) || blob.readUInt32BE(6) !== VERSION) return undefined;
  let at = 10;
  const next = (): Buffer | undefined => {
    if (at + 4 > blob.length) return undefined;
    const n = blob.readUInt32BE(at);
    if (at + 4 + n > blob.length) return undefined;
    const v = blob.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return v;
  };
  const publicKey = next();
  const namespace = next();
  const reserved = next();
  const hashAlg = next();
  const signature = next();
  if (!publicKey || !namespace || !reserved || !hashAlg || !signature || at !== blob.length) return undefined;
  return { publicKey, namespace: namespace.toString(), hashAlg: hashAlg.toString(), signature };
}

/** Why a signature does not hold, or 'ok'. */
export type SigCheck = 'ok' | 'malformed' | 'wrong namespace' | 'unknown key' | 'mismatch';

/** The hash an SSHSIG blob was made with; undefined when the blob is unreadable or names another hash. */
export function sigHashOf(blob: Buffer): SigHash | undefined {
  const alg = parseSshSig(blob)?.hashAlg;
  return alg === 'sha256' || alg === 'sha512' ? alg : undefined;
}

/**
 * Checks an SSHSIG blob over a message given as its digest, taken with the hash the blob names
 * (`sigHashOf`), against the trusted public key blobs (never the key inside the signature
 * alone: anyone can sign with a key of their own).
 */
export function verifyDigest(blob: Buffer, namespace: string, digest: Buffer, trusted: readonly Buffer[]): SigCheck {
  const sig = parseSshSig(blob);
  const alg = sig && sigHashOf(blob);
  if (!sig || !alg) return 'malformed';
  // A digest of the other hash cannot be of the signed message: the check fails as a mismatch.
  if (digest.length !== DIGEST_BYTES[alg]) return 'mismatch';
  if (sig.namespace !== namespace) return 'wrong namespace';
  if (!trusted.some((k) => k.equals(sig.publicKey))) return 'unknown key';
  const key = ed25519Key(sig.publicKey);
  if (!key) return 'malformed';
  // The SSH signature encoding wraps the raw 64 bytes: string(type) || string(raw).
  const inner = parseSshStrings(sig.signature);
  if (!inner || inner.length !== 2 || inner[0]!.toString() !== 'ssh-ed25519') return 'malformed';
  try {
    return verify(null, signedData(namespace, alg, digest), key, inner[1]!) ? 'ok' : 'mismatch';
  } catch {
    return 'mismatch';
  }
}

// ssh2's key.verify() hands crypto.verify a PEM string that OpenSSL parses again on every call:
// 520-550 µs per verify here, against 175-230 µs with a KeyObject made once per key (what is
// left is the ed25519 verification itself). Only trusted keys get here, so the cache holds
// the few keys this process has ever trusted.
const publicKeys = new Map<string, KeyObject>();

/** The KeyObject of an ed25519 public key blob (`string("ssh-ed25519") || string(32 bytes)`); undefined when it is not one. */
function ed25519Key(blob: Buffer): KeyObject | undefined {
  const id = blob.toString('base64');
  let key = publicKeys.get(id);
  if (key) return key;
  const fields = parseSshStrings(blob);
  if (!fields || fields.length !== 2 || fields[0]!.toString() !== 'ssh-ed25519' || fields[1]!.length !== 32) return undefined;
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: fields[1]!.toString('base64url') }, format: 'jwk' });
  } catch {
    return undefined;
  }
  publicKeys.set(id, key);
  return key;
}

/** Checks an SSHSIG blob over a message held in memory. */
export function verifyMessage(blob: Buffer, namespace: string, message: Buffer | string, trusted: readonly Buffer[]): SigCheck {
  const alg = sigHashOf(blob);
  return alg ? verifyDigest(blob, namespace, sshsigHash(alg).update(message).digest(), trusted) : 'malformed';
}

function parseSshStrings(b: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; ) {
    if (at + 4 > b.length) return undefined;
    const n = b.readUInt32BE(at);
    if (at + 4 + n > b.length) return undefined;
    out.push(b.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}
