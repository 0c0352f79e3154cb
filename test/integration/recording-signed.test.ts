import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startHarness, type Harness } from '../support/teamssh.js';
import { cli } from '../support/cli.js';

/**
 * End to end: a session through the real OpenSSH client leaves a recording that the reviewer's
 * stock tools verify (`teamssh signing-key --allowed-signers` into allowed_signers, then
 * `ssh-keygen -Y verify`), and `teamssh verify` reports each file in one line with an exit
 * status that fails on any problem.
 */

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h?.close());

/** Runs the README's reviewer command in `dir` with the recording on stdin. */
function sshKeygenVerify(dir: string, cast: string): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', `ssh-keygen -Y verify -f allowed_signers -I teamssh -n teamssh-recording@v1 -s ${cast}.sig < ${cast}`], { cwd: dir });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('teamssh signing-key prints the key the server signs with, as a public key line and as an allowed_signers line', async () => {
  const env = { TEAMSSH_STATE_DIR: h.config.stateDir };
  const pub = await cli(['signing-key'], env);
  assert.equal(pub.code, 0, pub.stderr);
  assert.match(pub.stdout, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]+ teamssh-recording-signing\n$/);
  const key = path.join(h.config.stateDir, 'recording_signing_ed25519_key');
  assert.equal((await stat(key)).mode & 0o777, 0o600, 'the key is private');
  // The same key ssh-keygen derives from the private key file: the server's key, not a new one.
  assert.equal(pub.stdout.split(' ')[1], spawnSync('ssh-keygen', ['-y', '-f', key]).stdout.toString().trim().split(' ')[1]);
  const allowed = await cli(['signing-key', '--allowed-signers'], env);
  assert.equal(allowed.stdout, `teamssh namespaces="teamssh-recording@v1" ssh-ed25519 ${pub.stdout.split(' ')[1]}\n`);
  // TEAMSSH_SIGNING_KEY names another file: a new key is generated there, 0600.
  const other = await cli(['signing-key'], { ...env, TEAMSSH_SIGNING_KEY: path.join(h.dir, 'other_key') });
  assert.equal(other.code, 0, other.stderr);
  assert.notEqual(other.stdout, pub.stdout);
  assert.equal((await stat(path.join(h.dir, 'other_key'))).mode & 0o777, 0o600);
});

test('a real session is signed: ssh-keygen -Y verify accepts it, teamssh verify says ok, and both fail after a one-byte change', async () => {
  const r = await h.ssh('alice', h.alice, ['echo signed-session-output']);
  assert.equal(r.code, 0, r.stderr);
  const end = await h.log.waitFor('session_end', (l) => String(l.command).includes('signed-session-output'));
  const cast = String(end.recording);
  const dir = path.dirname(cast);
  const names = await readdir(dir);
  for (const suffix of ['', '.sig', '.sig-chain']) assert.ok(names.includes(path.basename(cast) + suffix), `${suffix || '.cast'} is there`);

  // The reviewer's own copy, with allowed_signers from `teamssh signing-key --allowed-signers`.
  const review = path.join(h.dir, 'review');
  spawnSync('mkdir', ['-p', review]);
  const env = { TEAMSSH_STATE_DIR: h.config.stateDir };
  await writeFile(path.join(review, 'allowed_signers'), (await cli(['signing-key', '--allowed-signers'], env)).stdout);
  for (const suffix of ['', '.sig']) await copyFile(cast + suffix, path.join(review, `rec.cast${suffix}`));
  const good = sshKeygenVerify(review, 'rec.cast');
  assert.equal(good.status, 0, good.out);

  const ok = await cli(['verify', cast], env);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(ok.stdout, `${cast}: ok (signature, chain of 1 checkpoint, sidecar)\n`);
  // The copy with only its .sig, checked against a .pub file given with --key.
  await writeFile(path.join(review, 'key.pub'), (await cli(['signing-key'], env)).stdout);
  const sigOnly = await cli(['verify', '--key', path.join(review, 'key.pub'), path.join(review, 'rec.cast')]);
  assert.equal(sigOnly.code, 0, sigOnly.stdout + sigOnly.stderr);
  assert.match(sigOnly.stdout, /: ok \(signature; no chain or sidecar next to it, so only the signature was checked\)\n$/);

  const bytes = await readFile(path.join(review, 'rec.cast'));
  const at = bytes.indexOf('signed-session-output');
  bytes[at] = 0x53; // 's' becomes 'S'
  await writeFile(path.join(review, 'rec.cast'), bytes);
  assert.notEqual(sshKeygenVerify(review, 'rec.cast').status, 0);
  // An unsigned file next to the tampered one: one line each, exit status 1.
  await writeFile(path.join(review, 'plain.cast'), '{"version":2,"width":80,"height":24}\n[0, "o", "x"]\n');
  const bad = await cli(['verify', '--key', path.join(review, 'key.pub'), path.join(review, 'rec.cast'), path.join(review, 'plain.cast')]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, `${path.join(review, 'rec.cast')}: signature mismatch\n${path.join(review, 'plain.cast')}: unsigned\n`);
});

test('teamssh verify without a key to trust says so and exits non-zero', async () => {
  const r = await cli(['verify', 'x.cast'], { TEAMSSH_STATE_DIR: path.join(h.dir, 'no-state') });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /recording-signing key .* does not exist/);
});
