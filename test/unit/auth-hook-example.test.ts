import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';

// The example hook must work with exactly what the contract (handlers/README.md) gives a hook:
// three arguments, PATH and the TEAMSSH_* variables; nothing else of the environment.
const HOOK = path.resolve('handlers/auth-hook-example');

function runHook(remoteAddress: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    TEAMSSH_GITHUB_LOGIN: 'Alice',
    TEAMSSH_KEY: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA',
    TEAMSSH_KEY_FINGERPRINT: 'SHA256:abc',
    TEAMSSH_TEAMS: 'ops,developers',
    TEAMSSH_REMOTE_ADDR: remoteAddress,
  };
  return new Promise((resolve) => {
    execFile(HOOK, [env.TEAMSSH_GITHUB_LOGIN, env.TEAMSSH_KEY, env.TEAMSSH_KEY_FINGERPRINT], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
    });
  });
}

test('the example hook allows the listed networks and exports the first team as TEAM_ROLE', async () => {
  for (const addr of ['127.0.0.1', '10.20.30.40', '::ffff:10.1.2.3', '::1']) {
    const r = await runHook(addr);
    assert.equal(r.code, 0, `${addr}: ${r.stderr}`);
    assert.equal(r.stdout, 'TEAM_ROLE=ops\n', addr);
  }
});

test('the example hook denies other networks with one line for the audit log', async () => {
  for (const addr of ['192.0.2.7', '::ffff:192.0.2.7', '::12', '2001:db8::1']) {
    const r = await runHook(addr);
    assert.equal(r.code, 1, addr);
    assert.equal(r.stdout, '', addr);
    assert.match(r.stderr, /^login Alice \(SHA256:abc\) from \S+ is outside the allowed networks\n$/, addr);
  }
});
