import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { sigPathOf } from './hash-chain.js';
import { RECORDING_NAMESPACE, fingerprintOf } from './signing-key.js';
import { dearmor, parseSshSig, sshsigHash, verifyDigest } from './sshsig.js';

/**
 * Reading back the signature a finish wrote but did not rename. `RecordingSigner.finish` writes
 * `NAME.cast.sig` through a temporary file (fsynced) after the recording's last byte is durable,
 * then moves the chain and renames it; a kill -9 in between leaves the only signature over the
 * whole recording in that temp. Recovery puts it in place when it is whole and signs exactly
 * the bytes recovery holds: checked against the key inside it, which proves it is not torn and
 * not of other bytes, not that the key is trusted. Trust is decided where it always is: by the
 * uploader against its key and by `teamssh verify` against the trusted ones.
 */

/** What the sidecar says of a signature recovery found or put in place. */
export interface SignatureBack {
  signature: string;
  signedBy: string;
}

/**
 * Finds a whole signature of `part` (the recording about to become `castPath`, unchanged by
 * recovery): `NAME.cast.sig` already next to `castPath` (a finish cut short after its rename),
 * else the first of the temps `paths` that holds, which is then renamed to `NAME.cast.sig`
 * (before the recording is: a `.cast` never appears before its signature). Undefined when none
 * holds; the temps left are not removed here.
 */
export async function readBackSignature(paths: readonly string[], part: string, castPath: string): Promise<SignatureBack | undefined> {
  const final = sigPathOf(castPath);
  // One already in place is never replaced: it is reported only if it holds.
  const there = await readFile(final, 'utf8').catch(() => undefined);
  const candidates = there === undefined ? [...paths].sort() : [final];
  let digest: Buffer | undefined;
  for (const p of candidates) {
    const blob = dearmor(p === final ? there! : await readFile(p, 'utf8').catch(() => ''));
    const sig = blob && parseSshSig(blob);
    if (!blob || !sig) continue;
    // One pass over the recording, only when there is a signature to check (rare: a finish cut short).
    digest ??= await sha512Of(part);
    if (verifyDigest(blob, RECORDING_NAMESPACE, digest, [sig.publicKey]) !== 'ok') continue;
    if (p !== final) await rename(p, final);
    return { signature: path.basename(final), signedBy: fingerprintOf(sig.publicKey) };
  }
  return undefined;
}

async function sha512Of(file: string): Promise<Buffer> {
  const h = sshsigHash();
  const fh = await open(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = (await fh.read(chunk, 0, chunk.length, null)).bytesRead) > 0; ) h.update(chunk.subarray(0, n));
  } finally {
    await fh.close();
  }
  return h.digest();
}
