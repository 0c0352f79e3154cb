import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { hasCode } from '../errors.js';
import type { UploadClient, UploadFile, UploadResult } from './client.js';
import type { UploadGate } from './upload-gate.js';
import { sleep } from './upload-gate.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { fieldsBytes } from './multipart.js';
import { splitCast, type SplitResult } from './split.js';
import { PartBodies } from './part-bodies.js';
import { PARTS_DIR } from './leftovers.js';
import { SIGNATURE_ROOM, bufferDigest, checkSourceSignature, signatureBlock, sourceSignatureHash, type DigestOf } from './upload-signature.js';
import { fileDigest } from '../recording/sshsig.js';
import { fileCallsFor } from '../recording/file-calls.js';
import { READ_CHUNK } from '../recording/cast-lines.js';
import type { SigningKey } from '../recording/signing-key.js';
import { FAILED_DIR, UPLOADED_DIR, moveRecording, readSidecar, sidecarPath, writeSidecar, type Sidecar, type UploadFailure } from '../recording/sidecar.js';
import { metrics } from '../metrics/metrics.js';

/**
 * Ships one claimed recording to the end: uploaded (sidecar updated, moved to uploaded/) or
 * refused for good (moved to failed/ with the server's reason). Transient failures are retried
 * here without limit; only a stop (abort) or a local error ends the job early, and then the
 * caller releases the claim so the recording is picked up again.
 */

/** Everything a job needs from its uploader. */
export interface JobContext {
  dir: string;
  client: UploadClient;
  gate: UploadGate;
  log: Logger;
  backoff: BackoffOptions;
  maxBytes: number;
  visibility: 'private' | 'unlisted' | 'public';
  keepUploaded: boolean;
  /** Aborts waits (backoff, gate) at once on stop. */
  soft: AbortSignal;
  /** Aborts requests in flight, after the stop grace. */
  hard: AbortSignal;
  /** Told to the operator when the install id is refused. */
  connectHint: string;
  /** Checks recordings' signatures and signs what goes up without one (parts); absent: nothing is signed. */
  signingKey?: SigningKey | undefined;
}

// Room kept for text fields and multipart framing when sizing parts under the server limit.
const FRAMING = 1024;
// Below this a part cannot hold a header and an event of a real session: stop halving.
const MIN_PART = 2048;
// Recordings up to this size are read into memory once for hashing and sending (READ_CHUNK,
// the piece size used for bigger files, so memory per upload in flight stays as it was).
const HOLD_MAX = READ_CHUNK;
// Recordings up to this size (most logins: a command's output) are read with the bookkeeping's
// small calls (src/recording/file-calls.ts): directly on a local filesystem, where a read of
// 64 KiB from the page cache takes ~20 µs; larger ones stay off the event loop.
const SMALL_READ = 64 << 10;
// Parts up to this size are sent from memory (one buffer reused across parts; the server's
// default limit is 8,000,000 bytes); larger ones, under a raised limit, stream from disk.
const PART_HOLD_MAX = 16 << 20;

/** Session facts for the recording's description on the server (no secrets: no terminal content). */
export function describe(s: Sidecar): string {
  const lines = [`teamssh session${s.sessionId ? ` ${s.sessionId}` : ''}`];
  if (s.login) lines.push(`login: ${s.login}${s.team ? ` (team ${s.team})` : ''}`);
  if (s.fingerprint) lines.push(`key: ${s.fingerprint}`);
  if (s.remoteAddress) lines.push(`from: ${s.remoteAddress}${s.remotePort !== undefined ? ` port ${s.remotePort}` : ''}`);
  return lines.join('\n');
}

/** Uploads the recording `base`, held at `claimed`, to its end. Throws on abort or local errors. */
export async function shipRecording(ctx: JobContext, base: string, claimed: string): Promise<'uploaded' | 'failed'> {
  const side = sidecarPath(ctx.dir, base);
  const read = await readSidecar(side);
  // A crash after the outcome was written to uploaded/ or failed/ but before the recording
  // moved: finish that move instead of sending it again.
  const same = (d: Sidecar) =>
    !read || (read.data.sha256 ? d.sha256 === read.data.sha256 : Boolean(read.data.sessionId) && d.sessionId === read.data.sessionId);
  const up = await readSidecar(path.join(ctx.dir, UPLOADED_DIR, `${base}.json`));
  if (up?.data.uploadedAt && same(up.data)) return finishUploaded(ctx, base, claimed, up.data, false);
  const failed = await readSidecar(path.join(ctx.dir, FAILED_DIR, `${base}.json`));
  if (failed?.data.failure && same(failed.data)) {
    await moveRecording(ctx.dir, base, claimed, FAILED_DIR, undefined);
    return 'failed';
  }
  if (!read) {
    ctx.log.warn({ recording: base, code: 'ERR_UPLOAD_NO_SIDECAR' }, 'recording has no sidecar; uploading it with what its header says');
  } else if (read.corrupt) {
    await fs.copyFile(side, `${side}.corrupt`).catch(() => undefined);
    ctx.log.warn({ recording: base, code: 'ERR_UPLOAD_BAD_SIDECAR', problem: read.corrupt }, 'sidecar is not valid JSON (kept as .json.corrupt); uploading with what the header says');
  }
  const data: Sidecar = read?.data ?? {};
  if (data.uploadedAt) return finishUploaded(ctx, base, claimed, data, true);

  const fields: Record<string, string> = { ...(typeof data.title === 'string' && data.title ? { title: data.title } : {}), description: describe(data), visibility: ctx.visibility };
  const room = ctx.maxBytes - fieldsBytes(fields) - FRAMING - (ctx.signingKey ? SIGNATURE_ROOM : 0);
  const calls = await fileCallsFor(ctx.dir);
  const bytes = await calls.size(claimed);
  let limit = data.partLimit;
  if (limit === undefined && bytes > room) limit = room;
  if (limit === undefined) {
    // A recording that goes up whole is hashed here; one that is split is hashed by the
    // splitter as it writes the parts (one pass over the file instead of two). A small one
    // (most are) is read once: the bytes checked against the session's signature are the
    // bytes sent, and the hash and the upload cost one readFile instead of two opens and reads.
    const held = bytes <= SMALL_READ ? await calls.readSmall(claimed) : bytes <= HOLD_MAX ? await fs.readFile(claimed) : undefined;
    // Asked for at most once: to check the session's .sig when there is one, else (by
    // signatureBlock) to sign a recording that has none; never without a signing key.
    const digest: DigestOf = held ? async (alg) => bufferDigest(held, alg) : (alg) => fileDigest(claimed, alg);
    const source = await checkSourceSignature(ctx.dir, base, digest, ctx.signingKey);
    if (source.state === 'mismatch') logMismatch(ctx, base, data);
    const signed = { ...fields, description: fields.description + (await signatureBlock(source, { file: claimed, digest }, ctx.signingKey)) };
    const r = await attempt(ctx, { path: claimed, filename: `${base}.cast`, bytes: held?.length ?? bytes, data: held }, signed, base);
    if (r.kind === 'ok') return finishUploaded(ctx, base, claimed, { ...data, url: r.url }, true);
    if (r.kind === 'permanent') return fail(ctx, base, claimed, data, r);
    // 413 below our configured limit: this server's limit is smaller; split at half what failed.
    limit = Math.floor(Math.min(room, bytes) / 2);
    ctx.log.warn({ recording: base, bytes, partLimit: limit }, 'the server refused the recording as too large (413); splitting it into parts');
    return shipParts(ctx, base, claimed, data, fields, limit, source.state === 'mismatch');
  }
  return shipParts(ctx, base, claimed, data, fields, limit, false);
}

/** The splitter's digest of the whole file, taken with the hash the session's signature named when the split began. */
function splitDigest(whole: SplitResult['whole']): DigestOf {
  return async (alg) => {
    // Only when NAME.cast.sig changed its hash (or appeared) during the split: nothing to check against.
    if (whole?.alg !== alg) throw new Error(`the recording was split without a ${alg} digest of the whole`);
    return whole.digest;
  };
}

/** The audit event for a recording that does not match its own signature. */
function logMismatch(ctx: JobContext, base: string, data: Sidecar): void {
  ctx.log.error({ event: 'recording_signature_mismatch', code: 'ERR_UPLOAD_SIGNATURE', recording: base, sessionId: data.sessionId }, 'the recording does not match its signature (changed on disk?); uploaded unsigned, with a note saying so');
}

async function shipParts(ctx: JobContext, base: string, claimed: string, data: Sidecar, fields: Record<string, string>, first: number, warned: boolean): Promise<'uploaded' | 'failed'> {
  const side = sidecarPath(ctx.dir, base);
  const workDir = path.join(ctx.dir, PARTS_DIR, base);
  let limit = first;
  data.parts ??= [];
  const bodies = new PartBodies(PART_HOLD_MAX);
  try {
    for (;;) {
      if (limit < MIN_PART) return fail(ctx, base, claimed, data, { status: 413, type: 'content_too_large', message: `the server refuses parts even of ${limit * 2} bytes` });
      let split;
      try {
        split = await splitCast({
          file: claimed,
          workDir,
          limit,
          baseTitle: typeof data.title === 'string' ? data.title : undefined,
          skipEvents: data.parts.reduce((n, p) => n + p.events, 0),
          partsBefore: data.parts.length,
          digests: ctx.signingKey !== undefined,
          wholeHash: ctx.signingKey ? await sourceSignatureHash(ctx.dir, base) : undefined,
        });
      } catch (err) {
        if (!hasCode(err, 'ERR_UPLOAD_SPLIT')) throw err;
        return fail(ctx, base, claimed, data, { status: 413, type: 'split_failed', message: (err as Error).message });
      }
      const { parts, whole } = split;
      ctx.log.info({ recording: base, parts: parts.length + data.parts.length, partLimit: limit }, 'recording split into parts for upload');
      // The whole is checked against the session's signature with the digest of the very bytes
      // the parts were cut from, before any part is signed.
      const source = await checkSourceSignature(ctx.dir, base, splitDigest(whole), ctx.signingKey);
      if (source.state === 'mismatch' && !warned) {
        logMismatch(ctx, base, data);
        warned = true;
      }
      let shrunk = false;
      for (const part of parts) {
        const description = fields.description + (await signatureBlock(source, { part }, ctx.signingKey));
        const held = await bodies.read(part.path, part.bytes);
        const r = await attempt(ctx, { path: part.path, filename: `${base}-part${part.index}.cast`, bytes: part.bytes, data: held }, { ...fields, title: part.title, description }, base);
        if (r.kind === 'ok' && held) bodies.accepted(held);
        if (r.kind === 'permanent') return fail(ctx, base, claimed, data, r);
        if (r.kind === 'too_large') {
          // Re-split only what is not uploaded yet; parts already up keep their "N/M" titles,
          // so after this rare case M can differ between early and late parts.
          limit = Math.floor(limit / 2);
          shrunk = true;
          break;
        }
        data.parts.push({ url: r.url, bytes: part.bytes, events: part.events, start: part.start });
        data.partLimit = limit;
        // Progress survives a crash: a restart skips the parts listed here.
        await writeSidecar(side, data, { tmpDir: workDir });
      }
      if (!shrunk) break;
    }
  } finally {
    await fs.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
  return finishUploaded(ctx, base, claimed, { ...data, url: data.parts[0]?.url ?? '' }, true);
}

/** Sends until the server gives an answer that is not "try again". */
async function attempt(ctx: JobContext, file: UploadFile, fields: Record<string, string>, base: string): Promise<Extract<UploadResult, { kind: 'ok' | 'too_large' | 'permanent' }>> {
  for (let n = 0; ; ) {
    await ctx.gate.pass(ctx.soft);
    let r: UploadResult;
    try {
      r = await ctx.client.upload(file, fields, ctx.hard);
    } catch (err) {
      ctx.gate.inconclusive();
      throw err;
    }
    if (r.kind === 'unauthorized') {
      ctx.gate.unauthorized(r.message, ctx.connectHint);
      continue;
    }
    if (r.kind !== 'retry') {
      ctx.gate.authenticated();
      if (r.kind === 'ok' && !r.url) ctx.log.warn({ recording: base, code: 'ERR_UPLOAD_NO_URL' }, 'the server accepted the upload but named no URL (no JSON url, Location or text body)');
      return r;
    }
    ctx.gate.inconclusive();
    const delay = r.delayMs ?? backoffDelay(n, ctx.backoff);
    n++;
    if (r.status === 429) ctx.gate.rateLimited(delay);
    ctx.log.warn({ recording: base, attempt: n, status: r.status, reason: r.reason, retryInMs: delay }, 'upload failed; will retry');
    metrics.uploads.inc({ result: 'retry' });
    await sleep(delay, ctx.soft);
  }
}

async function fail(ctx: JobContext, base: string, claimed: string, data: Sidecar, r: Omit<UploadFailure, 'at'>): Promise<'failed'> {
  const failure: UploadFailure = { status: r.status, ...(r.type ? { type: r.type } : {}), message: r.message, ...(r.details !== undefined ? { details: r.details } : {}), at: new Date().toISOString() };
  const dest = await moveRecording(ctx.dir, base, claimed, FAILED_DIR, { ...data, failure });
  ctx.log.error({ event: 'recording_upload_failed', code: 'ERR_UPLOAD_REJECTED', sessionId: data.sessionId, file: dest, ...failure }, `the server refused the recording for good (${r.status}); kept in ${FAILED_DIR}/`);
  return 'failed';
}

async function finishUploaded(ctx: JobContext, base: string, claimed: string, data: Sidecar, fresh: boolean): Promise<'uploaded'> {
  if (fresh) {
    data.uploadedAt ??= new Date().toISOString();
    data.sha256 ??= await sha256(claimed);
  }
  const dest = await moveRecording(ctx.dir, base, claimed, UPLOADED_DIR, fresh ? data : undefined, !ctx.keepUploaded);
  ctx.log.info(
    { event: 'recording_uploaded', sessionId: data.sessionId, url: data.url, sha256: data.sha256, file: ctx.keepUploaded ? dest : `${base}.cast`, ...(data.parts?.length ? { parts: data.parts.map((p) => p.url) } : {}) },
    'recording uploaded',
  );
  return 'uploaded';
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
