import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { splitCast } from '../../src/upload/split.js';
import { READ_CHUNK } from '../../src/recording/cast-lines.js';
import { checkSourceSignature, signatureBlock, signatureInDescription, sourceSignatureHash } from '../../src/upload/upload-signature.js';
import { RECORDING_NAMESPACE, loadSigningKey } from '../../src/recording/signing-key.js';
import { armor, dearmor, fileDigest, sigHashOf, signDigest, verifyDigest } from '../../src/recording/sshsig.js';
import { validateAsciicast } from '../fakes/asciicast-validate.js';

/**
 * The splitter reads Buffers in 1 MiB pieces and hashes the whole file and each part while it
 * writes them; the uploader checks the session's signature against that whole digest and
 * signs each part from its own. These tests pin what the signatures rest on: the digests are
 * of exactly the bytes in the files, events cross read boundaries intact, and nothing is
 * signed from a second read.
 */

const sha256 = (b: Buffer | string): Buffer => createHash('sha256').update(b).digest();
const sha512 = (b: Buffer | string): Buffer => createHash('sha512').update(b).digest();

/** Event lines of a cast (header dropped, blank lines skipped, CR removed). */
function eventLines(text: string): string[] {
  return text.split('\n').slice(1).map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
}

/** A recording of just over 4 MiB: CRLF and LF lines, blank lines, an event spanning three reads, no final newline. */
function awkwardCast(): string {
  const lines = [JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1_800_000_000, title: 'ünïcode 🙂 title' })];
  let t = 12.5;
  for (let i = 0; i < 900; i++) {
    t += 0.0137;
    const data = i === 300 ? 'z'.repeat(Math.floor(READ_CHUNK * 2.5)) : `${'héllo 🙂 '.repeat(1 + (i % 40))}${i}\r\n`.repeat(1 + (i % 9) * 40);
    lines.push(JSON.stringify([Math.round(t * 1e6) / 1e6, 'o', data]) + (i % 5 === 0 ? '\r' : ''));
    if (i % 97 === 0) lines.push('   ');
  }
  return lines.join('\n');
}

test('the splitter hashes the whole file and each part as it writes them; events cross 1 MiB reads intact', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-split-'));
  try {
    const file = path.join(dir, 'big.cast');
    const text = awkwardCast();
    await fs.writeFile(file, text);
    assert.ok(Buffer.byteLength(text) > 4 * READ_CHUNK);
    const limit = 3 * READ_CHUNK;
    const { parts, whole } = await splitCast({ file, workDir: path.join(dir, 'parts'), limit, digests: true, wholeHash: 'sha256' });
    assert.equal(whole?.alg, 'sha256');
    assert.ok(whole?.digest.equals(sha256(await fs.readFile(file))), 'the whole digest is the file as it is on disk');
    // A recording signed before the switch to SHA-256: its whole is hashed as its signature names.
    const old = await splitCast({ file, workDir: path.join(dir, 'parts'), limit, digests: true, wholeHash: 'sha512' });
    assert.ok(old.whole?.alg === 'sha512' && old.whole.digest.equals(sha512(await fs.readFile(file))));
    assert.ok(parts.length >= 3, `${parts.length} parts`);
    const got: string[] = [];
    for (const p of parts) {
      const body = await fs.readFile(p.path);
      assert.equal(p.bytes, body.length);
      assert.ok(body.length <= limit);
      assert.ok(p.digest?.equals(sha256(body)), `part ${p.index}: its digest is its file's SHA-256`);
      assert.deepEqual(validateAsciicast(body), [], `part ${p.index} is a valid asciicast`);
      const lines = eventLines(body.toString('utf8'));
      assert.equal(p.events, lines.length);
      assert.match(lines[0]!, /^\[0,/, 'times are rebased to the part start');
      got.push(...lines);
    }
    // Every event once, in order; everything after the time is the original bytes.
    const after = (l: string): string => l.slice(l.indexOf(','));
    assert.deepEqual(got.map(after), eventLines(text).map(after));
    assert.ok(got.some((l) => l.length > 2 * READ_CHUNK), 'the event longer than two reads came through');

    // Without digests nothing is hashed.
    const plain = await splitCast({ file, workDir: path.join(dir, 'parts'), limit });
    assert.equal(plain.whole, undefined);
    assert.ok(plain.parts.every((p) => p.digest === undefined));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('parts are signed from the digest taken as they were written, and only after the whole matched the session signature', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-split-sign-'));
  try {
    const key = await loadSigningKey(path.join(dir, 'key'));
    const file = path.join(dir, 'rec.cast');
    await fs.writeFile(file, awkwardCast());
    const { parts, whole } = await splitCast({ file, workDir: path.join(dir, 'parts'), limit: 3 * READ_CHUNK, digests: true, wholeHash: 'sha256' });
    await fs.writeFile(`${file}.sig`, armor(signDigest(key.signer, RECORDING_NAMESPACE, sha256(await fs.readFile(file)))));
    assert.equal(await sourceSignatureHash(dir, 'rec'), 'sha256');

    // No signature file: the digest is not even asked for.
    const asked: string[] = [];
    const count = async (alg: string): Promise<Buffer> => (asked.push(alg), whole!.digest);
    assert.deepEqual(await checkSourceSignature(dir, 'other', count, key), { state: 'unsigned' });
    assert.deepEqual(asked, []);
    const source = await checkSourceSignature(dir, 'rec', count, key);
    assert.equal(source.state, 'signed');
    assert.deepEqual(asked, ['sha256'], 'asked for the hash the signature names');
    // A recording signed before the switch (sha512): checked with a SHA-512 of the same bytes, also when split.
    await fs.writeFile(path.join(dir, 'old.cast'), await fs.readFile(file));
    await fs.writeFile(path.join(dir, 'old.cast.sig'), armor(signDigest(key.signer, RECORDING_NAMESPACE, sha512(await fs.readFile(file)))));
    assert.equal(await sourceSignatureHash(dir, 'old'), 'sha512');
    const oldAsked: string[] = [];
    const fromFile = async (alg: 'sha256' | 'sha512'): Promise<Buffer> => (oldAsked.push(alg), fileDigest(path.join(dir, 'old.cast'), alg));
    assert.equal((await checkSourceSignature(dir, 'old', fromFile, key)).state, 'signed');
    assert.deepEqual(oldAsked, ['sha512']);
    const oldSplit = await splitCast({ file: path.join(dir, 'old.cast'), workDir: path.join(dir, 'old-parts'), limit: 3 * READ_CHUNK, digests: true, wholeHash: 'sha512' });
    assert.equal((await checkSourceSignature(dir, 'old', async () => oldSplit.whole!.digest, key)).state, 'signed');
    // A digest of other bytes (the file changed under the splitter) is a mismatch: no part is signed.
    const changed = await checkSourceSignature(dir, 'rec', async () => sha256('other bytes'), key);
    assert.deepEqual(changed, { state: 'mismatch' });
    const part = parts[1]!;
    const unsigned = await signatureBlock(changed, { part }, key);
    assert.match(unsigned, /NOT SIGNED/);
    assert.equal(signatureInDescription(unsigned), undefined);

    // The part's signature verifies over the part file as written...
    const block = await signatureBlock(source, { part }, key);
    assert.match(block, new RegExp(`part ${part.index}/${part.total} signed by the uploader; after checking the whole recording's signature`));
    const blob = dearmor(signatureInDescription(block)!)!;
    const written = await fs.readFile(part.path);
    assert.equal(verifyDigest(blob, RECORDING_NAMESPACE, sha256(written), [key.publicBlob]), 'ok');
    // ...and an edit to the part file before signing is not signed along: the signature is of
    // what the splitter wrote, so the edited file fails it.
    written[written.length - 3]! ^= 1;
    await fs.writeFile(part.path, written);
    const again = dearmor(signatureInDescription(await signatureBlock(source, { part }, key))!)!;
    assert.equal(verifyDigest(again, RECORDING_NAMESPACE, sha256(written), [key.publicBlob]), 'mismatch');
    // A part split without digests is refused, not hashed from the file.
    await assert.rejects(signatureBlock(source, { part: { index: 1, total: 2 } }, key), /without digests/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('signature checks: wrong key, namespace, bytes and malformed blobs are told apart', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-sshsig-'));
  try {
    const key = await loadSigningKey(path.join(dir, 'a'));
    const other = await loadSigningKey(path.join(dir, 'b'));
    const digest = sha512('message');
    const blob = signDigest(key.signer, RECORDING_NAMESPACE, digest);
    for (let i = 0; i < 3; i++) assert.equal(verifyDigest(blob, RECORDING_NAMESPACE, digest, [other.publicBlob, key.publicBlob]), 'ok', 'again with the cached key');
    assert.equal(verifyDigest(blob, RECORDING_NAMESPACE, sha512('massage'), [key.publicBlob]), 'mismatch');
    assert.equal(verifyDigest(blob, 'other@v1', digest, [key.publicBlob]), 'wrong namespace');
    assert.equal(verifyDigest(blob, RECORDING_NAMESPACE, digest, [other.publicBlob]), 'unknown key');
    assert.equal(verifyDigest(signDigest(other.signer, RECORDING_NAMESPACE, digest), RECORDING_NAMESPACE, digest, [key.publicBlob]), 'unknown key');
    assert.equal(verifyDigest(blob.subarray(0, blob.length - 1), RECORDING_NAMESPACE, digest, [key.publicBlob]), 'malformed');
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 1]! ^= 1;
    assert.equal(verifyDigest(flipped, RECORDING_NAMESPACE, digest, [key.publicBlob]), 'mismatch');

    // New signatures are made with sha256 and name it; sha512 ones (made before the switch) still verify.
    const blob256 = signDigest(key.signer, RECORDING_NAMESPACE, sha256('message'));
    assert.equal(sigHashOf(blob256), 'sha256');
    assert.equal(sigHashOf(blob), 'sha512');
    assert.equal(verifyDigest(blob256, RECORDING_NAMESPACE, sha256('message'), [key.publicBlob]), 'ok');
    // A digest of the other hash, even of the same message, never passes.
    assert.equal(verifyDigest(blob256, RECORDING_NAMESPACE, sha512('message'), [key.publicBlob]), 'mismatch');
    assert.equal(verifyDigest(blob, RECORDING_NAMESPACE, sha256('message'), [key.publicBlob]), 'mismatch');
    // The hash name is part of what is signed: relabelling a sha256 signature as sha512 breaks it.
    const relabelled = Buffer.from(blob256.toString('latin1').replace('\u0000\u0000\u0000\u0006sha256', '\u0000\u0000\u0000\u0006sha512'), 'latin1');
    assert.notDeepEqual(relabelled, blob256);
    assert.equal(verifyDigest(relabelled, RECORDING_NAMESPACE, sha512('message'), [key.publicBlob]), 'mismatch');
    // Any hash but the two SSHSIG allows is unreadable.
    const sha384 = Buffer.from(blob256.toString('latin1').replace('\u0000\u0000\u0000\u0006sha256', '\u0000\u0000\u0000\u0006sha384'), 'latin1');
    assert.equal(sigHashOf(sha384), undefined);
    assert.equal(verifyDigest(sha384, RECORDING_NAMESPACE, sha256('message'), [key.publicBlob]), 'malformed');
    assert.throws(() => signDigest(key.signer, RECORDING_NAMESPACE, Buffer.alloc(20)), /not a SHA-256 or SHA-512 digest/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
