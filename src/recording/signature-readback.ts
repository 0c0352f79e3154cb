import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { sigPathOf } from './hash-chain.js';
import { RECORDING_NAMESPACE, fingerprintOf } from './signing-key.js';
import { dearmor, fileDigest, parseSshSig, sigHashOf, verifyDigest, type SigHash } from './sshsig.js';

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
  const digests = new Map<SigHash, Buffer>();
  for (const p of candidates) {
    const blob = dearmor(p === final ? there! : await readFile(p, 'utf8').catch(() => ''));
    const sig = blob && parseSshSig(blob);
    const alg = blob && sigHashOf(blob);
    if (!blob || !sig || !alg) continue;
    // One pass over the recording per hash, only when there is a signature to check (rare: a
    // finish cut short); the hash is the one the signature names (sha512 before the switch to sha256).
    const digest = digests.get(alg) ?? (await fileDigest(part, alg));
    digests.set(alg, digest);
    if (verifyDigest(blob, RECORDING_NAMESPACE, digest, [sig.publicKey]) !== 'ok') continue;
    if (p !== final) await rename(p, final);
    return { signature: path.basename(final), signedBy: fingerprintOf(sig.publicKey) };
  }
  return undefined;
}
