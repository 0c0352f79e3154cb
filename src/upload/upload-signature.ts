import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { sigPathOf } from '../recording/hash-chain.js';
import { RECORDING_NAMESPACE, type SigningKey } from '../recording/signing-key.js';
import { armor, dearmor, signDigest, sshsigHash, verifyDigest } from '../recording/sshsig.js';

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
 * signature: signing parts of a file edited on disk would launder the edit.
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

/** Checks `claimed` (the recording `base`) against its `NAME.cast.sig` in `dir`. */
export async function checkSourceSignature(dir: string, base: string, claimed: string, key: SigningKey | undefined): Promise<SourceSignature> {
  if (!key) return { state: 'off' };
  let armored: string;
  try {
    armored = await fs.readFile(sigPathOf(path.join(dir, `${base}.cast`)), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'unsigned' };
    throw err;
  }
  const blob = dearmor(armored);
  const ok = blob !== undefined && verifyDigest(blob, RECORDING_NAMESPACE, await fileDigest(claimed), [key.publicBlob]) === 'ok';
  return ok ? { state: 'signed', armored } : { state: 'mismatch' };
}

/**
 * The text appended to the description of one upload: the whole recording (`part` undefined)
 * or one part file. Empty when signing is off.
 */
export async function signatureBlock(source: SourceSignature, file: string, key: SigningKey | undefined, part?: { index: number; total: number }): Promise<string> {
  if (source.state === 'off' || !key) return '';
  if (source.state === 'mismatch') return '\n\nNOT SIGNED: the recording did not match its own signature when it was uploaded.';
  let armored: string;
  let note: string;
  if (source.state === 'signed' && !part) {
    armored = source.armored;
    note = 'signed by the session';
  } else {
    armored = armor(signDigest(key.signer, RECORDING_NAMESPACE, await fileDigest(file)));
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

async function fileDigest(file: string): Promise<Buffer> {
  const h = sshsigHash();
  for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) h.update(chunk as Buffer);
  return h.digest();
}
