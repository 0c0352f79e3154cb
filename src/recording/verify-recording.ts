import { createHash, type Hash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chainPathOf, readChain, sigPathOf, type ChainRead } from './hash-chain.js';
import { readSidecar } from './sidecar.js';
import { RECORDING_NAMESPACE } from './signing-key.js';
import { dearmor, sshsigHash, verifyDigest, type SigCheck } from './sshsig.js';

/** The verdict on one recording: `line` is what `teamssh verify` prints after the file name. */
export interface Verdict {
  ok: boolean;
  line: string;
}

const SIG_WORDS: Record<Exclude<SigCheck, 'ok'>, string> = {
  mismatch: 'signature mismatch',
  malformed: 'signature unreadable',
  'wrong namespace': `signature not made in namespace ${RECORDING_NAMESPACE}`,
  'unknown key': 'signed by a key that is not trusted',
};

/**
 * Checks a recording with whatever lies next to it: `NAME.cast.sig` (SSHSIG over the whole
 * file), `NAME.cast.sig-chain` (signed checkpoints) and the sidecar `NAME.json` (SHA-256,
 * size). A file downloaded from the asciinema server comes with only its `.sig`: then the
 * signature alone decides, and the line says so. Signatures count only when made by one of
 * `trusted` (public key blobs).
 */
export async function verifyRecording(castPath: string, trusted: readonly Buffer[]): Promise<Verdict> {
  const sigText = await readOptional(sigPathOf(castPath));
  const chainText = await readOptional(chainPathOf(castPath));
  const sidecar = await readSidecar(path.join(path.dirname(castPath), `${path.basename(castPath).replace(/\.cast$/, '')}.json`)).catch(() => undefined);
  const chain: ChainRead | undefined = chainText === undefined ? undefined : readChain(chainText, trusted);
  const cps = chain?.checkpoints ?? [];
  const scan = await scanFile(castPath, cps.map((c) => c.bytes));

  const problems: string[] = [];
  const held: string[] = [];
  if (sigText === undefined) problems.push('unsigned');
  else {
    const blob = dearmor(sigText);
    const verdict: SigCheck = blob ? verifyDigest(blob, RECORDING_NAMESPACE, scan.sha512, trusted) : 'malformed';
    if (verdict === 'ok') held.push('signature');
    else problems.push(SIG_WORDS[verdict]);
  }

  if (chain) {
    // The last checkpoint whose bytes are all there and hash as signed.
    let good = 0;
    for (const [i, c] of cps.entries()) {
      if (c.bytes > scan.size) {
        problems.push(good === 0 ? 'truncated before checkpoint 1' : `truncated after checkpoint ${good}`);
        break;
      }
      if (scan.prefixes[i] !== c.sha512) {
        problems.push(`modified before checkpoint ${c.seq}`);
        break;
      }
      good = c.seq;
    }
    if (chain.problem) problems.push(`chain broken at ${chain.problem}`);
    const last = cps.at(-1);
    const whole = good === cps.length && last?.final === true && last.bytes === scan.size;
    if (whole) held.push(`chain of ${cps.length} checkpoint${cps.length === 1 ? '' : 's'}`);
    else if (good === cps.length && !chain.problem) {
      const covered = last?.bytes ?? 0;
      problems.push(
        last?.final
          ? `${scan.size - covered} bytes added after the final checkpoint`
          : `chain holds up to checkpoint ${good} (${covered} of ${scan.size} bytes), the rest is unverified`,
      );
    }
  }

  if (sidecar && !sidecar.corrupt) {
    const d = sidecar.data;
    if (typeof d.sha256 === 'string' && d.sha256 !== scan.sha256) problems.push('sidecar sha256 does not match');
    else if (typeof d.bytes === 'number' && d.bytes !== scan.size) problems.push('sidecar size does not match');
    else if (typeof d.sha256 === 'string') held.push('sidecar');
  } else if (sidecar?.corrupt) problems.push('sidecar unreadable');

  if (problems.length > 0) return { ok: false, line: problems.join('; ') };
  const missing = [chain ? '' : 'chain', sidecar ? '' : 'sidecar'].filter(Boolean);
  return { ok: true, line: `ok (${held.join(', ')}${missing.length ? `; no ${missing.join(' or ')} next to it, so only the signature was checked` : ''})` };
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** One pass over the file: its SHA-512 and SHA-256, and the SHA-512 of each prefix of `cuts` bytes. */
async function scanFile(file: string, cuts: number[]): Promise<{ size: number; sha512: Buffer; sha256: string; prefixes: string[] }> {
  const h512: Hash = sshsigHash();
  const h256 = createHash('sha256');
  const prefixes: string[] = [];
  let size = 0;
  let next = 0;
  const fh = await open(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = (await fh.read(chunk, 0, chunk.length, null)).bytesRead) > 0; ) {
      let data = chunk.subarray(0, n);
      h256.update(data);
      while (next < cuts.length && cuts[next]! <= size + data.length) {
        const take = cuts[next]! - size;
        h512.update(data.subarray(0, take));
        size += take;
        data = data.subarray(take);
        prefixes.push(h512.copy().digest('hex'));
        next++;
      }
      h512.update(data);
      size += data.length;
    }
  } finally {
    await fh.close();
  }
  // A cut at offset 0 or beyond the end never matched inside the loop.
  while (prefixes.length < cuts.length && cuts[prefixes.length]! <= size) prefixes.push(h512.copy().digest('hex'));
  return { size, sha512: h512.digest(), sha256: h256.digest('hex'), prefixes };
}
