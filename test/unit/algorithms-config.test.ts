import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { DEFAULT_CIPHERS, DEFAULT_HOST_KEY_ALGORITHMS, DEFAULT_KEX, DEFAULT_MACS, serverAlgorithmsOptions } from '../../src/server/algorithms.js';
import type { HostKey } from '../../src/server/host-key.js';

const base = { TEAMSSH_GITHUB_ORG: 'acme', TEAMSSH_GITHUB_TEAMS: 'ops', GITHUB_TOKEN: 't', TEAMSSH_SHELL_USER: 'teamssh' };

function problems(env: Record<string, string>): string {
  try {
    loadConfig({ env });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.join('\n');
  }
  return '';
}

test('the defaults are the hardened lists, post-quantum key exchange first', () => {
  const c = loadConfig({ env: base });
  assert.deepEqual(c.algorithms, { kex: [...DEFAULT_KEX], ciphers: [...DEFAULT_CIPHERS], macs: [...DEFAULT_MACS], hostKeyAlgorithms: [...DEFAULT_HOST_KEY_ALGORITHMS] });
  assert.equal(c.algorithms.kex[0], 'mlkem768x25519-sha256');
  for (const weak of ['ecdh-sha2-nistp256', 'diffie-hellman-group14-sha1', 'hmac-sha1', 'hmac-sha2-256', 'aes128-cbc', 'ssh-rsa', 'ecdsa-sha2-nistp256']) {
    assert.ok(!(Object.values(c.algorithms).flat() as string[]).includes(weak), `${weak} offered by default`);
  }
});

test('an operator widens a list for an old client; names ssh2 cannot speak are refused, each by its variable', () => {
  const c = loadConfig({ env: { ...base, TEAMSSH_KEX_ALGORITHMS: 'curve25519-sha256,diffie-hellman-group14-sha256', TEAMSSH_MACS: 'hmac-sha2-256' } });
  assert.deepEqual(c.algorithms.kex, ['curve25519-sha256', 'diffie-hellman-group14-sha256']);
  const text = problems({ ...base, TEAMSSH_KEX_ALGORITHMS: 'sntrup761x25519-sha512', TEAMSSH_CIPHERS: 'rot13', TEAMSSH_MACS: ' , ', TEAMSSH_HOST_KEY_ALGORITHMS: 'ssh-dsa' });
  assert.match(text, /TEAMSSH_KEX_ALGORITHMS \(algorithms\.kex\): not supported: sntrup761x25519-sha512/);
  assert.match(text, /TEAMSSH_CIPHERS \(algorithms\.ciphers\): not supported: rot13/);
  assert.match(text, /TEAMSSH_MACS \(algorithms\.macs\): must name at least one algorithm/);
  assert.match(text, /TEAMSSH_HOST_KEY_ALGORITHMS \(algorithms\.hostKeyAlgorithms\): not supported: ssh-dsa/);
});

test('TEAMSSH_HOST_KEY is a comma-separated list; the file still takes the old single path', async () => {
  assert.deepEqual(loadConfig({ env: { ...base, TEAMSSH_HOST_KEY: '/k/a_ed25519, /k/b_rsa' } }).hostKey, ['/k/a_ed25519', '/k/b_rsa']);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-cfg-'));
  try {
    const file = path.join(dir, 'teamssh.yaml');
    await writeFile(file, 'hostKey: /etc/teamssh/host_key\n');
    assert.deepEqual(loadConfig({ env: base, file }).hostKey, ['/etc/teamssh/host_key']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ssh2 is handed only the host keys an offered algorithm can use, and the exact server-sig-algs', () => {
  const key = (type: string): HostKey => ({ file: type, type, pem: Buffer.from(type), signer: { type } as HostKey['signer'], fingerprint: '' });
  const keys = [key('ssh-ed25519'), key('ecdsa-sha2-nistp256'), key('ssh-rsa')];
  const opts = serverAlgorithmsOptions({ kex: ['curve25519-sha256'], ciphers: ['aes128-ctr'], macs: ['hmac-sha2-256-etm@openssh.com'], hostKeyAlgorithms: ['ssh-ed25519', 'rsa-sha2-256'] }, keys, 'x') as unknown as { hostKeys: Array<{ key: { type: string } }>; serverSigAlgs: string[] };
  assert.deepEqual(opts.hostKeys.map((e) => e.key.type), ['ssh-ed25519', 'ssh-rsa']);
  assert.deepEqual(opts.serverSigAlgs, ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256']);
  assert.throws(() => serverAlgorithmsOptions({ kex: ['curve25519-sha256'], ciphers: ['aes128-ctr'], macs: ['hmac-sha2-256-etm@openssh.com'], hostKeyAlgorithms: ['ssh-ed25519'] }, [key('ssh-rsa')], 'x'), /no host key/);
});
