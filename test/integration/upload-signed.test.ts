import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { uploadWorld, type UploadWorld } from '../support/upload-harness.js';
import { waitFor } from '../support/poll.js';
import { Recorder } from '../../src/recording/recorder.js';
import { allowedSignersLine, loadSigningKey, type SigningKey } from '../../src/recording/signing-key.js';
import { verifyRecording } from '../../src/recording/verify-recording.js';
import { signatureInDescription } from '../../src/upload/upload-signature.js';
import type { StoredUpload } from '../fakes/asciinema-server.js';

/**
 * Signatures travel with uploads: a reviewer who only has the asciinema server saves the
 * description's SSHSIG block next to the downloaded file and checks it with the real
 * ssh-keygen. Parts of a split recording are each signed. The signature files move (or go)
 * with their recording, and the queue never takes them for recordings.
 */

async function signedRecording(dir: string, name: string, key: SigningKey, outputs: number): Promise<string> {
  const rec = await Recorder.create({ dir, name, width: 80, height: 24, timestamp: 1_800_000_000, title: `session ${name}`, env: {}, recordInput: false, signing: { key } });
  for (let i = 0; i < outputs; i++) rec.output(`line ${i} ${'x'.repeat(80)}\r\n`);
  return (await rec.finish()).castPath;
}

/** Saves an upload as a reviewer downloads it (file + the description's signature) and runs ssh-keygen on it. */
async function reviewerVerifies(w: UploadWorld, u: StoredUpload, key: SigningKey, tamper = false): Promise<{ status: number | null; out: string }> {
  const dl = path.join(w.root, `download-${u.id}`);
  await fs.mkdir(dl, { recursive: true });
  const sig = signatureInDescription(u.description ?? '');
  assert.ok(sig, `upload ${u.id} has a signature in its description`);
  const body = Buffer.from(u.body);
  if (tamper) body[body.length - 5] = body[body.length - 5]! ^ 1;
  await fs.writeFile(path.join(dl, 'rec.cast'), body);
  await fs.writeFile(path.join(dl, 'rec.cast.sig'), sig);
  await fs.writeFile(path.join(dl, 'allowed_signers'), `${allowedSignersLine(key.publicBlob)}\n`);
  const r = spawnSync('sh', ['-c', 'ssh-keygen -Y verify -f allowed_signers -I teamssh -n teamssh-recording@v1 -s rec.cast.sig < rec.cast'], { cwd: dl });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('an uploaded recording carries its signature in the description; the download verifies with ssh-keygen and teamssh verify', async () => {
  const w = await uploadWorld();
  try {
    const key = await loadSigningKey(path.join(w.stateDir, 'recording_signing_ed25519_key'));
    await signedRecording(w.dir, 'rec', key, 20);
    // A stray signature without its recording must not be taken for a recording.
    await fs.writeFile(path.join(w.dir, 'stray.cast.sig'), 'x');
    await fs.writeFile(path.join(w.dir, 'stray.cast.sig-chain'), 'x');
    const h = await w.start({ signingKey: key });
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'rec.json')) && !existsSync(path.join(w.dir, 'rec.cast')), { what: 'uploaded' });
    await h.idle();
    assert.equal(w.fake.uploads.length, 1, 'only the recording went up');
    const u = w.fake.uploads[0]!;
    assert.match(u.description ?? '', /SSHSIG \(teamssh-recording@v1, signed by the session; key SHA256:/);
    assert.equal(signatureInDescription(u.description ?? ''), await fs.readFile(path.join(w.dir, 'uploaded', 'rec.cast.sig'), 'utf8'), 'the session signature itself');
    const good = await reviewerVerifies(w, u, key);
    assert.equal(good.status, 0, good.out);
    assert.notEqual((await reviewerVerifies(w, u, key, true)).status, 0, 'one changed byte fails');

    // With only the file and its .sig (as downloaded), teamssh verify says what it checked.
    const dl = path.join(w.root, `download-${u.id}`);
    await fs.writeFile(path.join(dl, 'rec.cast'), u.body);
    assert.deepEqual(await verifyRecording(path.join(dl, 'rec.cast'), [key.publicBlob]), { ok: true, line: 'ok (signature; no chain or sidecar next to it, so only the signature was checked)' });

    // The signature files moved with the recording; the stray ones were left alone.
    assert.deepEqual((await fs.readdir(path.join(w.dir, 'uploaded'))).sort(), ['rec.cast', 'rec.cast.sig', 'rec.cast.sig-chain', 'rec.json']);
    assert.deepEqual((await fs.readdir(w.dir)).filter((f) => f.includes('.sig')).sort(), ['stray.cast.sig', 'stray.cast.sig-chain']);
    assert.deepEqual(await verifyRecording(path.join(w.dir, 'uploaded', 'rec.cast'), [key.publicBlob]), { ok: true, line: 'ok (signature, chain of 1 checkpoint, sidecar)' });
  } finally {
    await w.close();
  }
});

test('with TEAMSSH_KEEP_UPLOADED=false the signature files go with the recording', async () => {
  const w = await uploadWorld();
  try {
    const key = await loadSigningKey(path.join(w.stateDir, 'k'));
    await signedRecording(w.dir, 'rec', key, 3);
    const h = await w.start({ signingKey: key, keepUploaded: false });
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'rec.json')), { what: 'uploaded' });
    await h.idle();
    assert.deepEqual(await fs.readdir(path.join(w.dir, 'uploaded')), ['rec.json']);
    assert.deepEqual((await fs.readdir(w.dir)).filter((f) => f !== 'uploaded' && f !== 'live'), []);
  } finally {
    await w.close();
  }
});

test('each part of a split recording is signed, and each verifies with ssh-keygen on its own', async () => {
  const w = await uploadWorld({ maxBytes: 20_000 });
  try {
    const key = await loadSigningKey(path.join(w.stateDir, 'k'));
    await signedRecording(w.dir, 'big', key, 600);
    const h = await w.start({ signingKey: key, maxBytes: 20_000 });
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'big.json')), { what: 'uploaded', timeoutMs: 20_000 });
    await h.idle();
    assert.ok(w.fake.uploads.length >= 3, `split into ${w.fake.uploads.length} parts`);
    for (const u of w.fake.uploads) {
      assert.match(u.description ?? '', /part \d+\/\d+ signed by the uploader; after checking the whole recording's signature/);
      const r = await reviewerVerifies(w, u, key);
      assert.equal(r.status, 0, `part ${u.id}: ${r.out}`);
      assert.ok(u.body.length <= 20_000);
    }
    assert.notEqual((await reviewerVerifies(w, w.fake.uploads[1]!, key, true)).status, 0, 'a changed part fails');
  } finally {
    await w.close();
  }
});

test('a recording changed on disk after it was signed goes up unsigned, with a note and an audit event', async () => {
  const w = await uploadWorld({ maxBytes: 20_000 });
  try {
    const key = await loadSigningKey(path.join(w.stateDir, 'k'));
    const cast = await signedRecording(w.dir, 'big', key, 600);
    const bytes = await fs.readFile(cast);
    bytes[bytes.indexOf('line 7') + 5] = 0x38; // "line 7" becomes "line 8"
    await fs.writeFile(cast, bytes);
    const h = await w.start({ signingKey: key, maxBytes: 20_000 });
    await waitFor(() => existsSync(path.join(w.dir, 'uploaded', 'big.json')), { what: 'uploaded', timeoutMs: 20_000 });
    await h.idle();
    assert.ok(w.fake.uploads.length >= 2);
    for (const u of w.fake.uploads) {
      assert.equal(signatureInDescription(u.description ?? ''), undefined, 'no laundered signature on a part');
      assert.match(u.description ?? '', /NOT SIGNED: the recording did not match its own signature/);
    }
    assert.ok(w.log.lines.some((r) => r.event === 'recording_signature_mismatch' && r.code === 'ERR_UPLOAD_SIGNATURE'));
  } finally {
    await w.close();
  }
});
