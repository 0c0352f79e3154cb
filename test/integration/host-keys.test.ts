import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startHarness, type Harness } from '../support/teamssh.js';
import { loadHostKeys } from '../../src/server/host-key.js';
import { runCheck } from '../../src/check-command.js';

const run = promisify(execFile);

// A deployment from before this change has only state/ssh_host_ed25519_key: it must keep that
// key (clients' known_hosts stay valid) and get ECDSA and RSA keys next to it, like sshd.
let h: Harness;
let oldFingerprint: string;

async function fingerprintOf(file: string): Promise<string> {
  return (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', file])).stdout.split(' ')[1]!;
}

/** The host key the real OpenSSH client was shown when it asked for `algorithm`. */
async function serverHostKey(port: number, algorithm: string): Promise<string> {
  const r = await run('ssh', ['-v', '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentityAgent=none', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', `HostKeyAlgorithms=${algorithm}`, '-p', String(port), 'nobody@127.0.0.1', 'true'], { env: { HOME: os.tmpdir(), PATH: process.env.PATH } }).catch((e: { stderr: string }) => e);
  return /Server host key: (\S+ SHA256:\S+)/.exec(r.stderr)?.[1] ?? /no matching host key type found/.exec(r.stderr)?.[0] ?? r.stderr;
}

before(async () => {
  h = await startHarness({
    async setup(_gh, dir) {
      await mkdir(path.join(dir, 'state'), { mode: 0o700 });
      const old = path.join(dir, 'state', 'ssh_host_ed25519_key');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', old]);
      oldFingerprint = await fingerprintOf(old);
    },
  });
});
after(() => h.close());

test('an existing ed25519 host key is kept; ECDSA P-256 and RSA 3072 keys are generated next to it, mode 0600', async () => {
  const state = path.join(h.dir, 'state');
  assert.equal(await fingerprintOf(path.join(state, 'ssh_host_ed25519_key')), oldFingerprint);
  for (const [file, bits, type] of [['ssh_host_ecdsa_key', '256', 'ECDSA'], ['ssh_host_rsa_key', '3072', 'RSA']] as const) {
    const st = await stat(path.join(state, file));
    assert.equal(st.mode & 0o777, 0o600, `${file} mode`);
    const line = (await run('ssh-keygen', ['-l', '-f', path.join(state, file)])).stdout;
    assert.match(line, new RegExp(`^${bits} SHA256:\\S+ .*\\(${type}\\)`), line);
  }
});

test('clients see the old ed25519 fingerprint and the RSA key with SHA-2 signatures', async () => {
  assert.equal(await serverHostKey(h.port, 'ssh-ed25519'), `ssh-ed25519 ${oldFingerprint}`);
  const rsa = await fingerprintOf(path.join(h.dir, 'state', 'ssh_host_rsa_key'));
  assert.equal(await serverHostKey(h.port, 'rsa-sha2-512'), `ssh-rsa ${rsa}`);
  assert.equal(await serverHostKey(h.port, 'rsa-sha2-256'), `ssh-rsa ${rsa}`);
  assert.equal(await serverHostKey(h.port, 'ssh-rsa'), 'no matching host key type found');
});

test('the ECDSA host key is offered only when TEAMSSH_HOST_KEY_ALGORITHMS names it', async () => {
  assert.equal(await serverHostKey(h.port, 'ecdsa-sha2-nistp256'), 'no matching host key type found');
  // The same host key files, its own state directory (the control socket lives there).
  const files = ['ed25519', 'ecdsa', 'rsa'].map((t) => path.join(h.dir, 'state', `ssh_host_${t}_key`)).join(',');
  const withEcdsa = await startHarness({ env: { TEAMSSH_HOST_KEY: files, TEAMSSH_HOST_KEY_ALGORITHMS: 'ssh-ed25519,ecdsa-sha2-nistp256' } });
  try {
    const ecdsa = await fingerprintOf(path.join(h.dir, 'state', 'ssh_host_ecdsa_key'));
    assert.equal(await serverHostKey(withEcdsa.port, 'ecdsa-sha2-nistp256'), `ecdsa-sha2-nistp256 ${ecdsa}`);
  } finally {
    await withEcdsa.close();
  }
});

test('teamssh check reports each host key with its fingerprint', async () => {
  const out: string[] = [];
  await runCheck(h.config, (l) => out.push(l));
  const keyLines = out.filter((l) => l.includes('host key'));
  assert.equal(keyLines.length, 3, out.join('\n'));
  assert.ok(keyLines.some((l) => l.includes(`ssh-ed25519 ${oldFingerprint}, offered`)), keyLines.join('\n'));
  assert.ok(keyLines.some((l) => /ecdsa-sha2-nistp256 SHA256:\S+, not offered/.test(l)), keyLines.join('\n'));
  assert.ok(keyLines.every((l) => l.startsWith('ok')), keyLines.join('\n'));
});

test('TEAMSSH_HOST_KEY files get their type from their name; two keys of one type are refused', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-hk-'));
  try {
    const keys = await loadHostKeys([path.join(dir, 'a', 'my_rsa_key'), path.join(dir, 'b', 'edge-ecdsa'), path.join(dir, 'host_key')]);
    assert.deepEqual(keys.map((k) => k.type), ['ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-ed25519']);
    for (const k of keys) assert.equal(k.fingerprint, await fingerprintOf(k.file));
    await assert.rejects(loadHostKeys([path.join(dir, 'host_key'), path.join(dir, 'other_ed25519_key')]), (err: Error & { code?: string }) => err.code === 'ERR_HOST_KEY' && /both ssh-ed25519/.test(err.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
