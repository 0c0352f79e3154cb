import path from 'node:path';
import { writeNewFile, type FileCalls } from './file-calls.js';
import { CHAIN_VERSION, CHECKPOINT_EVERY_MS, chainPathOf, checkpointLine, lineHash, sigPathOf } from './hash-chain.js';
import { RECORDING_NAMESPACE, type SigningKey } from './signing-key.js';
import { armor, signDigest } from './sshsig.js';
import { tempPathFor } from './temp-files.js';

/** What a writer has written so far: the bytes whose writes have returned, and their SHA-256. */
export interface WrittenSoFar {
  readonly byteCount: number;
  /** The SHA-256 of those bytes; the writer's hash goes on. */
  digestSoFar(): Buffer;
}

/** How a recorder signs: the key, and how often checkpoints may be written (tests shorten it). */
export interface SigningOptions {
  key: SigningKey;
  checkpointMs?: number;
}

/** What a finished signer adds to the sidecar. */
export interface SignatureFacts {
  /** File name of the SSHSIG signature, next to the recording. */
  signature: string;
  /** File name of the checkpoint chain. */
  sigChain: string;
  /** Fingerprint of the key that signed. */
  signedBy: string;
  checkpoints: number;
}

/**
 * Signs one recording while it is written: it follows the writer's running SHA-256 of every
 * byte written (in order, whole lines; the same hash gives the sidecar's `sha256`, so signing
 * hashes nothing of its own), appends a signed checkpoint to
 * `NAME.cast.sig-chain` at most every `checkpointMs` when there is new data, and at the end
 * writes the final checkpoint and `NAME.cast.sig` (SSHSIG over the whole file). Checkpoints
 * only ever cover bytes the recorder's write has returned for, so a crash leaves a chain that
 * holds for the `.part` up to its last checkpoint.
 */
export class RecordingSigner {
  // The writer (src/recording/cast-writer.ts): what it has written so far, and its SHA-256.
  private source: WrittenSoFar | undefined;
  private signedBytes = 0;
  private seq = 0;
  private prev = '';
  private tail: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private failed: Error | undefined;
  private closed = false;

  private constructor(
    private readonly castPath: string,
    private readonly workDir: string,
    private readonly key: SigningKey,
    // The chain's descriptor, and the calls its bookkeeping is made with (src/recording/file-calls.ts).
    private readonly fd: number,
    private readonly calls: FileCalls,
    everyMs: number,
    private readonly onError: (err: Error) => void,
  ) {
    this.timer = setInterval(() => this.checkpoint(false), everyMs);
    this.timer.unref();
  }

  /**
   * Creates `NAME.cast.sig-chain` (0600, exclusive) in `workDir` (the live/ directory) for the
   * recording that will be `castPath`; `finish` moves it next to the recording.
   */
  static async open(castPath: string, workDir: string, opts: SigningOptions, calls: FileCalls, onError: (err: Error) => void): Promise<RecordingSigner> {
    const fd = await calls.create(liveChainPath(castPath, workDir), 0o600);
    return new RecordingSigner(castPath, workDir, opts.key, fd, calls, opts.checkpointMs ?? CHECKPOINT_EVERY_MS, onError);
  }

  /** Signs what `source` has written (from its header on), as far as its writes have returned. */
  follow(source: WrittenSoFar): void {
    this.source = source;
  }

  private written(): WrittenSoFar {
    if (!this.source) throw new Error('the signer follows no writer yet');
    return this.source;
  }

  /** Writes the final checkpoint and `NAME.cast.sig`, both next to the recording; call after its last byte is durable. */
  async finish(): Promise<SignatureFacts> {
    clearInterval(this.timer);
    this.checkpoint(true);
    await this.tail;
    if (this.failed) {
      await this.close().catch(() => undefined);
      throw this.failed;
    }
    const digest = this.written().digestSoFar();
    const sig = sigPathOf(this.castPath);
    // Temporary file in live/ (same filesystem): the watched top sees only the final name.
    const tmp = tempPathFor(sig, this.workDir);
    await writeNewFile(this.calls, tmp, armor(signDigest(this.key.signer, RECORDING_NAMESPACE, digest)));
    // The chain before the signature: a NAME.cast.sig always has its chain next to it.
    await this.calls.rename(liveChainPath(this.castPath, this.workDir), chainPathOf(this.castPath));
    await this.calls.rename(tmp, sig);
    return { signature: path.basename(sig), sigChain: path.basename(chainPathOf(this.castPath)), signedBy: this.key.fingerprint, checkpoints: this.seq };
  }

  /** Stops checkpointing and closes the chain (a recording that failed: recovery deals with it). */
  async abort(): Promise<void> {
    clearInterval(this.timer);
    await this.tail;
    await this.close().catch(() => undefined);
  }

  // The descriptor is closed once, whichever of finish and abort comes to it: a second close
  // could hit a descriptor the process has handed out again since.
  private close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.calls.close(this.fd);
  }

  /** Removes the chain of a recording that never started (its `.part` is removed too). */
  async discard(): Promise<void> {
    await this.abort();
    await this.calls.unlink(liveChainPath(this.castPath, this.workDir)).catch(() => undefined);
  }

  /** Queues a checkpoint of what is written so far; a no-op when nothing new was written since the last one. */
  private checkpoint(final: boolean): void {
    const bytes = this.source?.byteCount ?? 0;
    if (this.failed || (!final && bytes === this.signedBytes)) return;
    // Copying the running hash costs one state copy, not a re-read of the file.
    const digest = this.written().digestSoFar().toString('hex');
    const c = { v: CHAIN_VERSION, seq: ++this.seq, bytes, digest, prev: this.prev, at: new Date().toISOString(), final };
    const line = checkpointLine(this.key.signer, c);
    this.prev = lineHash(line);
    this.signedBytes = bytes;
    this.tail = this.tail.then(async () => {
      if (this.failed) return;
      try {
        await this.calls.write(this.fd, `${line}\n`);
        if (final) await this.calls.fsync(this.fd);
        if (final) await this.close();
      } catch (err) {
        this.failed = err as Error;
        this.onError(this.failed);
      }
    });
  }
}

/** Where the chain of the recording that will be `castPath` is written while it is live. */
export function liveChainPath(castPath: string, workDir: string): string {
  return path.join(workDir, path.basename(chainPathOf(castPath)));
}
