import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * SSHSIG, the signature format of `ssh-keygen -Y sign` (PROTOCOL.sshsig in OpenSSH; summarised
 * in docs/external-systems.md §8). Only what teamssh needs: ed25519 keys and the sha512 hash,
 * which is what `ssh-keygen -Y sign` uses by default, so `ssh-keygen -Y verify` checks our files
 * with no teamssh code involved.
 */

const MAGIC = Buffer.from('SSHSIG');
const VERSION = 1;
const HASH = 'sha512';
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

/** A SHA-512 of the message, as SSHSIG hashes it before signing; feed it with `update`. */
export function sshsigHash(): ReturnType<typeof createHash> {
  return createHash(HASH);
}

/** Signs a message given as its SHA-512 digest; returns the binary SSHSIG blob. */
export function signDigest(key: SshSigner, namespace: string, digest: Buffer): Buffer {
  const raw = key.sign(signedData(namespace, HASH, digest));
  if (raw instanceof Error) throw raw;
  const version = Buffer.alloc(4);
  version.writeUInt32BE(VERSION);
  const signature = Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]);
  return Buffer.concat([MAGIC, version, sshString(key.getPublicSSH()), sshString(namespace), sshString(''), sshString(HASH), sshString(signature)]);
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

/**
 * Checks an SSHSIG blob over a message given as its SHA-512 digest, against the trusted public
 * key blobs (never the key inside the signature alone: anyone can sign with a key of their own).
 */
export function verifyDigest(blob: Buffer, namespace: string, digest: Buffer, trusted: readonly Buffer[]): SigCheck {
  const sig = parseSshSig(blob);
  if (!sig || sig.hashAlg !== HASH) return 'malformed';
  if (sig.namespace !== namespace) return 'wrong namespace';
  if (!trusted.some((k) => k.equals(sig.publicKey))) return 'unknown key';
  const key = ed25519Key(sig.publicKey);
  if (!key) return 'malformed';
  // The SSH signature encoding wraps the raw 64 bytes: string(type) || string(raw).
  const inner = parseSshStrings(sig.signature);
  if (!inner || inner.length !== 2 || inner[0]!.toString() !== 'ssh-ed25519') return 'malformed';
  try {
    return verify(null, signedData(namespace, HASH, digest), key, inner[1]!) ? 'ok' : 'mismatch';
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
  return verifyDigest(blob, namespace, sshsigHash().update(message).digest(), trusted);
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
