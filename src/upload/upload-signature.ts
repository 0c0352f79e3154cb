import { fileCallsFor } from '../recording/file-calls.js';
import path from 'node:path';
import { sigPathOf } from '../recording/hash-chain.js';
import { RECORDING_NAMESPACE, type SigningKey } from '../recording/signing-key.js';
import { SIGN_HASH, armor, dearmor, fileDigest, sigHashOf, signDigest, sshsigHash, verifyDigest, type SigHash } from '../recording/sshsig.js';

/**
 * The signature that travels with an upload. The asciinema server keeps `title`, `description`
 * and `visibility` and ignores any other form field (docs/external-systems.md §2), so the
 * armored SSHSIG goes at the end of the description, in a fenced block that the server's
 * Markdown rendering leaves verbatim: a reviewer who only has the server copies it into
 * `NAME.cast.sig` and runs `ssh-keygen -Y verify` on the downloaded file (same bytes as sent).
 *
 * A whole recording goes up with the session's own `NAME.cast.sig`. Parts of a split recording
 * (and recordings recovered after a crash, which have no signature of their own) are signed by
 * the uploader, but only after it checked the whole recording against the session's
 * signature: signing parts of a file edited on disk would launder the edit. The check uses the
 * digest the splitter took of the very bytes it cut the parts from, and each part is signed
 * from the digest taken as it was written, so no second read can see (and sign) other bytes.
 */

/** What the recording's own signature says about the file the uploader holds. */
export type SourceSignature =
  | { state: 'signed'; armored: string }
  | { state: 'unsigned' }
  | { state: 'mismatch' }
  /** No signing key configured for the uploader: nothing is signed or checked. */
  | { state: 'off' };

/** Room kept in the size limit for the signature block in the description. */
export const SIGNATURE_ROOM = 640;

/** A digest of the bytes being uploaded, taken with the hash asked for. */
export type DigestOf = (alg: SigHash) => Promise<Buffer>;

async function readSourceSignature(dir: string, base: string): Promise<string | undefined> {
  try {
    return (await (await fileCallsFor(dir)).readSmall(sigPathOf(path.join(dir, `${base}.cast`)))).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The hash the recording's own `NAME.cast.sig` was made with (sha256 since the switch, sha512
 * before it), so the splitter can take that digest of the whole as it reads it; undefined when
 * there is no signature or it cannot be read (then no digest of the whole is needed).
 */
export async function sourceSignatureHash(dir: string, base: string): Promise<SigHash | undefined> {
  const armored = await readSourceSignature(dir, base);
  const blob = armored === undefined ? undefined : dearmor(armored);
  return blob && sigHashOf(blob);
}

/**
 * Checks the recording `base` against its `NAME.cast.sig` in `dir`. `digest` gives the digest
 * of the bytes being uploaded with the hash the signature names; it is asked for only when
 * there is a signature to check.
 */
export async function checkSourceSignature(dir: string, base: string, digest: DigestOf, key: SigningKey | undefined): Promise<SourceSignature> {
  if (!key) return { state: 'off' };
  const armored = await readSourceSignature(dir, base);
  if (armored === undefined) return { state: 'unsigned' };
  const blob = dearmor(armored);
  const alg = blob && sigHashOf(blob);
  const ok = blob !== undefined && alg !== undefined && verifyDigest(blob, RECORDING_NAMESPACE, await digest(alg), [key.publicBlob]) === 'ok';
  return ok ? { state: 'signed', armored } : { state: 'mismatch' };
}

/**
 * What one upload is: the whole recording (`file`, with `digest` giving a digest of the bytes
 * sent when the uploader holds them), or a part with the digest (`SIGN_HASH`) taken as it was written.
 */
export type UploadTarget = { file: string; digest?: DigestOf } | { part: { index: number; total: number; digest?: Buffer | undefined } };

/** The text appended to the description of one upload. Empty when signing is off. */
export async function signatureBlock(source: SourceSignature, target: UploadTarget, key: SigningKey | undefined): Promise<string> {
  if (source.state === 'off' || !key) return '';
  if (source.state === 'mismatch') return '\n\nNOT SIGNED: the recording did not match its own signature when it was uploaded.';
  const part = 'part' in target ? target.part : undefined;
  let armored: string;
  let note: string;
  if (source.state === 'signed' && !part) {
    armored = source.armored;
    note = 'signed by the session';
  } else {
    // A part is signed from the digest the splitter took while writing it, never by reading
    // the part file back: an edit to a part file before its upload fails its signature.
    const digest = 'part' in target ? target.part.digest : await (target.digest ?? ((alg: SigHash) => fileDigest(target.file, alg)))(SIGN_HASH);
    if (!digest) throw new Error('a part to sign was split without digests');
    armored = armor(signDigest(key.signer, RECORDING_NAMESPACE, digest));
    const whole = source.state === 'signed' ? "after checking the whole recording's signature" : 'the recording has no signature of its own (recovered after a crash)';
    note = part ? `part ${part.index}/${part.total} signed by the uploader; ${whole}` : `signed by the uploader; ${whole}`;
  }
  return `\n\nSSHSIG (${RECORDING_NAMESPACE}, ${note}; key ${key.fingerprint}):\n\`\`\`\n${armored.trimEnd()}\n\`\`\``;
}

/** The armored signature inside a description, as a reviewer would save it to NAME.cast.sig. */
export function signatureInDescription(description: string): string | undefined {
  const m = /-----BEGIN SSH SIGNATURE-----[\s\S]*?-----END SSH SIGNATURE-----/.exec(description);
  return m && dearmor(m[0]) ? `${m[0]}\n` : undefined;
}

/** Digest (`alg`) of bytes in hand, as fileDigest takes it of a file. */
export function bufferDigest(data: Buffer, alg: SigHash): Buffer {
  return sshsigHash(alg).update(data).digest();
}
