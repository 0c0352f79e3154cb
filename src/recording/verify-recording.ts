import { createHash, type Hash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chainHash, chainPathOf, readChain, sigPathOf, type ChainRead } from './hash-chain.js';
import { readSidecar } from './sidecar.js';
import { RECORDING_NAMESPACE } from './signing-key.js';
import { dearmor, sigHashOf, verifyDigest, type SigCheck, type SigHash } from './sshsig.js';

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
  const blob = sigText === undefined ? undefined : dearmor(sigText);
  const sigHash = blob && sigHashOf(blob);
  // Recordings signed before the switch to SHA-256 need a SHA-512 too; newer ones only the SHA-256.
  const scan = await scanFile(castPath, cps.map((c) => c.bytes), cps[0] ? chainHash(cps[0].v) : 'sha256', sigHash === 'sha512' || cps[0]?.v === 1);

  const problems: string[] = [];
  const held: string[] = [];
  if (sigText === undefined) problems.push('unsigned');
  else {
    const digest = sigHash === 'sha512' ? scan.sha512 : scan.sha256;
    const verdict: SigCheck = blob && digest ? verifyDigest(blob, RECORDING_NAMESPACE, digest, trusted) : 'malformed';
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
      if (scan.prefixes[i] !== c.digest) {
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
    if (typeof d.sha256 === 'string' && d.sha256 !== scan.sha256.toString('hex')) problems.push('sidecar sha256 does not match');
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

/**
 * One pass over the file: its size, its SHA-256, its SHA-512 when `want512` (or the chain's hash is SHA-512), and the hex digest
 * (with `prefixHash`, the chain's hash) of each prefix of `cuts` bytes.
 */
async function scanFile(file: string, cuts: number[], prefixHash: SigHash, want512: boolean): Promise<{ size: number; sha256: Buffer; sha512: Buffer | undefined; prefixes: string[] }> {
  const h256 = createHash('sha256');
  const h512 = want512 || prefixHash === 'sha512' ? createHash('sha512') : undefined;
  // The prefixes are copies of the running hash of the chain's kind, taken at each cut.
  const hp: Hash = prefixHash === 'sha512' ? h512! : h256;
  const update = (data: Buffer) => {
    h256.update(data);
    h512?.update(data);
  };
  const prefixes: string[] = [];
  let size = 0;
  let next = 0;
  const fh = await open(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = (await fh.read(chunk, 0, chunk.length, null)).bytesRead) > 0; ) {
      let data = chunk.subarray(0, n);
      while (next < cuts.length && cuts[next]! <= size + data.length) {
        const take = cuts[next]! - size;
        update(data.subarray(0, take));
        size += take;
        data = data.subarray(take);
        prefixes.push(hp.copy().digest('hex'));
        next++;
      }
      update(data);
      size += data.length;
    }
  } finally {
    await fh.close();
  }
  // A cut at offset 0 or beyond the end never matched inside the loop.
  while (prefixes.length < cuts.length && cuts[prefixes.length]! <= size) prefixes.push(hp.copy().digest('hex'));
  return { size, sha256: h256.digest(), sha512: h512?.digest(), prefixes };
}
