import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Recorder, type RecorderOptions } from '../../src/recording/recorder.js';
import { RECORDING_NAMESPACE, allowedSignersLine, loadSigningKey, type SigningKey } from '../../src/recording/signing-key.js';
import { verifyRecording } from '../../src/recording/verify-recording.js';
import { recoverPartials } from '../../src/recording/recover.js';
import { CHAIN_NAMESPACE, lineHash, readChain } from '../../src/recording/hash-chain.js';
import { armor, dearmor, sigHashOf, signDigest } from '../../src/recording/sshsig.js';
import { silentLogger } from '../../src/log.js';
import { FILE_CALLS, type FileCalls } from '../../src/recording/file-calls.js';

/**
 * Signed recordings: NAME.cast.sig checked by the real `ssh-keygen -Y verify`, the checkpoint
 * chain catching truncation and edits, and `verifyRecording`'s one-line verdicts.
 */

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-sign-'));
  await chmod(dir, 0o700);
  return dir;
}

function opts(dir: string, key: SigningKey, checkpointMs?: number, fileCalls?: FileCalls): RecorderOptions {
  return { dir, name: 'rec', width: 80, height: 24, timestamp: 1_800_000_000, title: 't', env: {}, recordInput: false, signing: { key, ...(checkpointMs ? { checkpointMs } : {}) }, ...(fileCalls ? { fileCalls } : {}) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exactly the reviewer's command from the README, run by a shell with the recording on stdin. */
function verifyWithStdin(dir: string, cast: string): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', `ssh-keygen -Y verify -f allowed_signers -I teamssh -n teamssh-recording@v1 -s ${cast}.sig < ${cast}`], { cwd: dir });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function signedRecording(dir: string, key: SigningKey, checkpointMs?: number, fileCalls?: FileCalls): Promise<Recorder> {
  const rec = await Recorder.create(opts(dir, key, checkpointMs, fileCalls));
  rec.output('hello\r\n');
  rec.output(Buffer.from('caf\xc3\xa9 \x1b[31mred\x1b[0m\r\n', 'latin1'));
  rec.resize(100, 30);
  return rec;
}

test('the signing key is generated once, ed25519, mode 0600, and read back unchanged', async () => {
  const dir = await tempDir();
  try {
    const file = path.join(dir, 'state', 'recording_signing_ed25519_key');
    const a = await loadSigningKey(file);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(a.publicLine, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=* teamssh-recording-signing$/);
    const b = await loadSigningKey(file);
    assert.equal(b.publicLine, a.publicLine, 'an existing key is never replaced');
    // ssh-keygen reads it as an OpenSSH private key and derives the same public key.
    const derived = spawnSync('ssh-keygen', ['-y', '-f', file]).stdout.toString().trim().split(' ').slice(0, 2).join(' ');
    assert.equal(derived, a.publicLine.split(' ').slice(0, 2).join(' '));
    await writeFile(path.join(dir, 'bad'), 'not a key');
    await assert.rejects(loadSigningKey(path.join(dir, 'bad')), { code: 'ERR_SIGNING_KEY' });
    await assert.rejects(loadSigningKey(path.join(dir, 'missing'), { create: false }), { code: 'ERR_SIGNING_KEY' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const way of ['direct', 'threaded'] as const) test(`a finished recording has NAME.cast.sig that the real ssh-keygen -Y verify accepts, and rejects after a one-byte change (file calls ${way})`, async () => {
  const dir = await tempDir();
  try {
    const key = await loadSigningKey(path.join(dir, 'key'));
    const rec = await signedRecording(dir, key, undefined, FILE_CALLS[way]);
    const fin = await rec.finish();
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, ['key', 'live', 'rec.cast', 'rec.cast.sig', 'rec.cast.sig-chain', 'rec.json']);
    assert.deepEqual(await readdir(path.join(dir, 'live')), [], 'the chain and the temporary files left live/');
    assert.equal((await stat(`${fin.castPath}.sig`)).mode & 0o777, 0o600);
    assert.equal((await stat(`${fin.castPath}.sig-chain`)).mode & 0o777, 0o600);
    const side = JSON.parse(await readFile(fin.sidecarPath, 'utf8')) as Record<string, unknown>;
    assert.equal(side.signature, 'rec.cast.sig');
    assert.equal(side.signedBy, key.fingerprint);
    await writeFile(path.join(dir, 'allowed_signers'), `${allowedSignersLine(key.publicBlob)}\n`);

    const good = verifyWithStdin(dir, 'rec.cast');
    assert.equal(good.status, 0, good.out);
    assert.match(good.out, /Good "teamssh-recording@v1" signature for teamssh with ED25519 key/);
    assert.deepEqual(await verifyRecording(fin.castPath, [key.publicBlob]), { ok: true, line: 'ok (signature, chain of 1 checkpoint, sidecar)' });

    // One byte changed in the middle of the output: "hello" becomes "hellp".
    const bytes = await readFile(fin.castPath);
    const at = bytes.indexOf('hello') + 4;
    bytes[at] = bytes[at]! + 1;
    await writeFile(fin.castPath, bytes);
    const bad = verifyWithStdin(dir, 'rec.cast');
    assert.notEqual(bad.status, 0, bad.out);
    const v = await verifyRecording(fin.castPath, [key.publicBlob]);
    assert.equal(v.ok, false);
    assert.match(v.line, /signature mismatch/);
    assert.match(v.line, /modified before checkpoint 1/);
    assert.match(v.line, /sidecar sha256 does not match/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a signature by another key, or in another namespace, does not count', async () => {
  const dir = await tempDir();
  try {
    const key = await loadSigningKey(path.join(dir, 'key'));
    const other = await loadSigningKey(path.join(dir, 'other'));
    const fin = await (await signedRecording(dir, key)).finish();
    const v = await verifyRecording(fin.castPath, [other.publicBlob]);
    assert.equal(v.ok, false);
    assert.match(v.line, /signed by a key that is not trusted/);
    assert.match(v.line, /chain broken at checkpoint 1: signature unknown key/);
    // ssh-keygen agrees: the namespace is part of what is signed.
    await writeFile(path.join(dir, 'allowed_signers'), `${allowedSignersLine(key.publicBlob)}\n`);
    const r = spawnSync('sh', ['-c', 'ssh-keygen -Y verify -f allowed_signers -I teamssh -n other@v1 -s rec.cast.sig < rec.cast'], { cwd: dir });
    assert.notEqual(r.status, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('checkpoints while the session runs: a cut or an edit is found up to the last checkpoint', async () => {
  const dir = await tempDir();
  try {
    const key = await loadSigningKey(path.join(dir, 'key'));
    const rec = await signedRecording(dir, key, 50);
    // The first output, then three rounds, each followed by a checkpoint.
    await sleep(250);
    for (const word of ['one', 'two', 'three']) {
      rec.output(`${word}\r\n`);
      await sleep(250);
    }
    // While the session runs the chain is in live/; finish moves it next to the recording.
    const liveChain = path.join(dir, 'live', 'rec.cast.sig-chain');
    const chainFile = path.join(dir, 'rec.cast.sig-chain');
    const live = readChain(await readFile(liveChain, 'utf8'), [key.publicBlob]);
    assert.equal(live.problem, undefined);
    // The header alone may get its own checkpoint before the first flush; a slow machine may merge rounds.
    const n = live.checkpoints.length;
    assert.ok(n >= 2 && n <= 5, `one checkpoint per round with new data (${n})`);
    await sleep(200);
    assert.equal(readChain(await readFile(liveChain, 'utf8'), [key.publicBlob]).checkpoints.length, n, 'no checkpoint without new data');
    const fin = await rec.finish();
    const whole = await verifyRecording(fin.castPath, [key.publicBlob]);
    assert.deepEqual(whole, { ok: true, line: `ok (signature, chain of ${n + 1} checkpoints, sidecar)` });

    // Cut the file back to just before the last live checkpoint's end: the ones before it still hold.
    const cps = readChain(await readFile(chainFile, 'utf8'), [key.publicBlob]).checkpoints;
    await truncate(fin.castPath, cps[n - 1]!.bytes - 3);
    const cut = await verifyRecording(fin.castPath, [key.publicBlob]);
    assert.equal(cut.ok, false);
    assert.equal(cut.line, `signature mismatch; truncated after checkpoint ${n - 1}; sidecar sha256 does not match`);

    // A removed checkpoint line breaks the link of the next one.
    const lines = (await readFile(chainFile, 'utf8')).split('\n');
    lines.splice(1, 1);
    await writeFile(chainFile, lines.join('\n'));
    assert.match(readChain(lines.join('\n'), [key.publicBlob]).problem ?? '', /checkpoint 2: out of order/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('recordings signed before the switch to SHA-256 (sha512 signature, v1 chain) still verify; new ones are sha256, v2; a chain cannot change hash midway', async () => {
  const dir = await tempDir();
  try {
    const key = await loadSigningKey(path.join(dir, 'key'));
    const rec = await signedRecording(dir, key, 50);
    await sleep(200);
    rec.output('more\r\n');
    await sleep(200);
    const fin = await rec.finish();
    const chainFile = `${fin.castPath}.sig-chain`;
    // What this build writes: the .sig names sha256, every checkpoint is v2 with a SHA-256.
    assert.equal(sigHashOf(dearmor(await readFile(`${fin.castPath}.sig`, 'utf8'))!), 'sha256');
    const newLines = (await readFile(chainFile, 'utf8')).trimEnd().split('\n');
    assert.ok(newLines.length >= 2);
    const bytes = await readFile(fin.castPath);
    for (const line of newLines) {
      const o = JSON.parse(line) as { v: number; bytes: number; sha256: string; sha512?: string };
      assert.equal(o.v, 2);
      assert.equal(o.sha512, undefined);
      assert.equal(o.sha256, createHash('sha256').update(bytes.subarray(0, o.bytes)).digest('hex'), 'the checkpoint is the SHA-256 of the prefix');
    }

    // The same recording as a build before the switch signed it: sha512 everywhere, chain v1.
    const sha512 = (b: Buffer | string) => createHash('sha512').update(b).digest();
    let prev = '';
    const oldLines = newLines.map((line) => {
      const o = JSON.parse(line) as { seq: number; bytes: number; at: string; final: boolean };
      const payload = JSON.stringify({ v: 1, seq: o.seq, bytes: o.bytes, sha512: sha512(bytes.subarray(0, o.bytes)).toString('hex'), prev, at: o.at, final: o.final });
      const signed = `${payload.slice(0, -1)},"sig":"${signDigest(key.signer, CHAIN_NAMESPACE, sha512(payload)).toString('base64')}"}`;
      prev = lineHash(signed);
      return signed;
    });
    await writeFile(chainFile, `${oldLines.join('\n')}\n`);
    await writeFile(`${fin.castPath}.sig`, armor(signDigest(key.signer, RECORDING_NAMESPACE, sha512(bytes))));
    await writeFile(path.join(dir, 'allowed_signers'), `${allowedSignersLine(key.publicBlob)}\n`);
    const good = verifyWithStdin(dir, 'rec.cast');
    assert.equal(good.status, 0, good.out);
    assert.deepEqual(await verifyRecording(fin.castPath, [key.publicBlob]), { ok: true, line: `ok (signature, chain of ${oldLines.length} checkpoints, sidecar)` });
    // And an old chain still catches an edit.
    const edited = Buffer.from(bytes);
    edited[edited.indexOf('more')]! ^= 1;
    await writeFile(fin.castPath, edited);
    assert.match((await verifyRecording(fin.castPath, [key.publicBlob])).line, /signature mismatch; modified before checkpoint \d+/);

    // A v2 checkpoint after v1 ones (however well signed) is not part of the chain.
    const mixed = [oldLines[0]!, newLines[1]!].join('\n') + '\n';
    assert.match(readChain(mixed, [key.publicBlob]).problem ?? '', /checkpoint 2: checkpoint version differs/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a crash leaves a chain that recovery keeps: the recording is reported unsigned, verified up to its last checkpoint', async () => {
  const dir = await tempDir();
  try {
    const key = await loadSigningKey(path.join(dir, 'key'));
    const rec = await signedRecording(dir, key, 50);
    rec.output('before the checkpoint\r\n');
    await sleep(250);
    // The checkpoint timer stops (as it would in a crash a moment later), while output still reaches the .part.
    await (rec as unknown as { signer: { abort(): Promise<void> } }).signer.abort();
    rec.output('after the checkpoint, never checkpointed\r\n');
    await sleep(250);
    const chainBefore = await readFile(path.join(dir, 'live', 'rec.cast.sig-chain'), 'utf8');
    const recovered = await recoverPartials(dir, silentLogger());
    assert.equal(recovered.length, 1);
    assert.ok((await readdir(dir)).includes('rec.cast.sig-chain'), 'recovery moves the chain from live/ next to the recovered recording');
    assert.deepEqual(await readdir(path.join(dir, 'live')), []);
    assert.equal(await readFile(path.join(dir, 'rec.cast.sig-chain'), 'utf8'), chainBefore);
    const v = await verifyRecording(path.join(dir, 'rec.cast'), [key.publicBlob]);
    assert.equal(v.ok, false);
    assert.match(v.line, /^unsigned; chain holds up to checkpoint \d+ \(\d+ of \d+ bytes\), the rest is unverified$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a recording that cannot start its chain leaves nothing behind: no .part, no early sidecar written alongside', async () => {
  const dir = await tempDir();
  try {
    const key = await loadSigningKey(path.join(dir, 'key'));
    // The chain is opened exclusively: one already there makes the start fail after the .part was opened.
    await mkdir(path.join(dir, 'live'));
    await writeFile(path.join(dir, 'live', 'rec.cast.sig-chain'), 'not ours\n');
    const meta = { sessionId: 's1', login: 'alice', team: 'ops', fingerprint: 'SHA256:x', remoteAddress: '192.0.2.1', remotePort: 1, account: 'u', kind: 'exec' as const, command: 'true', handler: null, startedAt: '2026-11-29T00:00:00.000Z', teamsshVersion: 't', title: 't' };
    await assert.rejects(Recorder.create({ ...opts(dir, key), meta }), { code: 'ERR_REC_OPEN' });
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('rec') || f.startsWith('.rec')), []);
    assert.deepEqual((await readdir(path.join(dir, 'live'))).filter((f) => f.startsWith('rec') || f.startsWith('.rec')).sort(), ['rec.cast.sig-chain']);
    assert.equal(await readFile(path.join(dir, 'live', 'rec.cast.sig-chain'), 'utf8'), 'not ours\n', 'a chain that was not ours is left alone');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
