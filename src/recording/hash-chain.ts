import { createHash } from 'node:crypto';
import { fileCallsFor, type FileCalls } from './file-calls.js';
import path from 'node:path';
import { signMessage, verifyMessage, type SigHash, type SshSigner } from './sshsig.js';

/**
 * The format of `NAME.cast.sig-chain`: one JSON object per line, each a signed checkpoint
 * saying "the first `bytes` bytes of the recording have this SHA-256" (`"v":2`; chains written
 * before the switch to SHA-256 are `"v":1` with a SHA-512, and still read). The hash runs over the
 * file from its first byte, so each checkpoint covers everything before it; `prev` (the SHA-256
 * of the previous checkpoint line) links the checkpoints, so one cannot be dropped or reordered
 * without breaking the next. Checkpoints fall on line boundaries (the recorder only ever writes
 * whole lines). `sig` is an SSHSIG blob, base64, in its own namespace so that a checkpoint
 * signature can never pass as a signature of a recording. The last checkpoint of a finished
 * recording has `final: true` and covers the whole file. See README "Verifying a recording".
 */

/** The SSHSIG namespace of checkpoint signatures. */
export const CHAIN_NAMESPACE = 'teamssh-recording-chain@v1';
/** The longest a live recording goes without a new checkpoint (when it has new data). */
export const CHECKPOINT_EVERY_MS = 30_000;

/** The version of the checkpoints teamssh writes now. */
export const CHAIN_VERSION = 2 as const;

/** One checkpoint (without its signature). */
export interface Checkpoint {
  v: 1 | 2;
  /** 1-based position in the chain. */
  seq: number;
  /** Bytes of the recording covered, from its start. */
  bytes: number;
  /** Hex digest of those bytes with the version's hash (`chainHash`), in the line under that hash's name. */
  digest: string;
  /** Hex SHA-256 of the previous checkpoint's whole line ('' for the first). */
  prev: string;
  /** When it was made (ISO time). */
  at: string;
  /** True for the checkpoint written when the recording was finished. */
  final: boolean;
}

/** Path of the chain of a recording (named after the final `.cast` even while it is a `.part`). */
export function chainPathOf(castPath: string): string {
  return `${castPath}.sig-chain`;
}

/** Path of the SSHSIG signature of a finished recording. */
export function sigPathOf(castPath: string): string {
  return `${castPath}.sig`;
}

/**
 * Moves `NAME.cast.sig` and `NAME.cast.sig-chain` from `dir` into `target` along with their
 * recording (or deletes them when the recording itself is dropped); missing ones are skipped,
 * so a move interrupted by a crash can simply be run again.
 */
export async function moveSignatureFiles(dir: string, base: string, target: string, drop: boolean, calls?: FileCalls): Promise<void> {
  const c = calls ?? (await fileCallsFor(dir));
  for (const of of [sigPathOf, chainPathOf]) {
    const from = of(path.join(dir, `${base}.cast`));
    const done = drop ? c.unlink(from) : c.rename(from, of(path.join(target, `${base}.cast`)));
    await done.catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/** The hash of a checkpoint version's digest: SHA-512 in v1, SHA-256 since v2. */
export function chainHash(v: Checkpoint['v']): SigHash {
  return v === 1 ? 'sha512' : 'sha256';
}

/** The exact bytes a checkpoint signature covers: its fields in a fixed order. */
function payload(c: Checkpoint): string {
  return JSON.stringify({ v: c.v, seq: c.seq, bytes: c.bytes, [chainHash(c.v)]: c.digest, prev: c.prev, at: c.at, final: c.final });
}

/** Hex SHA-256 of a checkpoint line, for the next checkpoint's `prev`. */
export function lineHash(line: string): string {
  return createHash('sha256').update(line).digest('hex');
}

/** A signed checkpoint line, without the newline. */
export function checkpointLine(key: SshSigner, c: Checkpoint): string {
  const p = payload(c);
  return `${p.slice(0, -1)},"sig":"${signMessage(key, CHAIN_NAMESPACE, p).toString('base64')}"}`;
}

/** What reading a chain found: the checkpoints that hold, and the first problem after them. */
export interface ChainRead {
  checkpoints: Checkpoint[];
  /** Why reading stopped early (bad signature, broken link, unreadable line); undefined when the whole chain holds. */
  problem?: string;
}

/**
 * Reads a chain and checks every checkpoint's signature against the trusted keys and its link
 * to the one before. A torn last line (a crash while appending) is ignored: the checkpoints
 * before it still hold.
 */
export function readChain(text: string, trusted: readonly Buffer[]): ChainRead {
  const checkpoints: Checkpoint[] = [];
  const lines = text.split('\n');
  lines.pop(); // '' when the text ends with a newline, else a torn line
  let prev = '';
  for (const [i, line] of lines.entries()) {
    const problem = check(line, checkpoints.length + 1, prev, checkpoints[0]?.v, trusted);
    if (typeof problem === 'string') return { checkpoints, problem: `checkpoint ${i + 1}: ${problem}` };
    checkpoints.push(problem);
    prev = lineHash(line);
  }
  return { checkpoints };
}

function check(line: string, seq: number, prev: string, version: Checkpoint['v'] | undefined, trusted: readonly Buffer[]): Checkpoint | string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return 'unreadable line';
  }
  const { v, bytes, at, final, sig } = o;
  if (v !== 1 && v !== 2) return 'unreadable line';
  const digest = o[chainHash(v)];
  if (typeof bytes !== 'number' || typeof digest !== 'string' || typeof at !== 'string' || typeof final !== 'boolean' || typeof sig !== 'string') {
    return 'unreadable line';
  }
  // One signer writes a chain, all in one version: a change of hash midway is not ours.
  if (version !== undefined && v !== version) return 'checkpoint version differs from the chain before it';
  const c: Checkpoint = { v, seq: o.seq as number, bytes, digest, prev: o.prev as string, at, final };
  const verdict = verifyMessage(Buffer.from(sig, 'base64'), CHAIN_NAMESPACE, payload(c), trusted);
  if (verdict !== 'ok') return `signature ${verdict}`;
  if (c.seq !== seq || c.prev !== prev) return 'out of order (a checkpoint was removed or moved)';
  return c;
}
