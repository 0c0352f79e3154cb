import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startHarness, type Harness } from '../support/teamssh.js';
import { DEBIAN13_BIN } from '../support/ssh-clients.js';

const run = promisify(execFile);

// ssh-audit is what operators and auditors run against an SSH server; teamssh's default
// algorithms must pass it like a hardened sshd does (docs/algorithms.md).

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

/** The [fail] and [warn] lines of an ssh-audit report (colours off). */
async function audit(bin: string, port: number, opts: string[] = ['--skip-rate-test']): Promise<{ findings: string[]; report: string }> {
  // --skip-rate-test (3.x): the DHEat rate probe opens dozens of connections and only ever reports [nfo].
  const r = await run(bin, ['-n', ...opts, '-p', String(port), '127.0.0.1'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).catch((e: { stdout: string }) => e);
  const report = r.stdout;
  assert.match(report, /# key exchange algorithms/, `ssh-audit did not reach the server:\n${report}`);
  return { report, findings: report.split('\n').filter((l) => /\[(fail|warn)\]/.test(l)).map((l) => l.trim()) };
}

test("Debian 13's ssh-audit (3.3) finds nothing to fail or warn about in the defaults", { skip: existsSync(path.join(DEBIAN13_BIN, 'ssh-audit')) ? undefined : 'run scripts/debian13-tools.sh' }, async () => {
  const { findings, report } = await audit(path.join(DEBIAN13_BIN, 'ssh-audit'), h.port);
  assert.deepEqual(findings, [], report);
  assert.match(report, /\(kex\) mlkem768x25519-sha256/);
  assert.match(report, /\(kex\) kex-strict-s-v00@openssh\.com/, 'strict key exchange (Terrapin) is advertised');
});

test("Debian 12's ssh-audit (2.5) warns only about the two names it predates", { skip: existsSync('/usr/bin/ssh-audit') ? undefined : 'apt-get install ssh-audit' }, async () => {
  const { findings, report } = await audit('ssh-audit', h.port, []);
  const unknown = findings.filter((l) => /\[warn\] unknown algorithm/.test(l));
  assert.deepEqual(unknown.map((l) => /\((?:kex)\) (\S+)/.exec(l)?.[1]).sort(), ['kex-strict-s-v00@openssh.com', 'mlkem768x25519-sha256'], report);
  assert.deepEqual(findings.filter((l) => !unknown.includes(l)), [], report);
});

test('an operator can widen the lists for an old client, and ssh-audit then says so', { skip: existsSync(path.join(DEBIAN13_BIN, 'ssh-audit')) ? undefined : 'run scripts/debian13-tools.sh' }, async () => {
  const wide = await startHarness({ env: { TEAMSSH_KEX_ALGORITHMS: 'curve25519-sha256,ecdh-sha2-nistp256', TEAMSSH_MACS: 'hmac-sha2-256-etm@openssh.com,hmac-sha1', TEAMSSH_HOST_KEY_ALGORITHMS: 'ssh-ed25519,ecdsa-sha2-nistp256' } });
  try {
    const { findings, report } = await audit(path.join(DEBIAN13_BIN, 'ssh-audit'), wide.port);
    for (const name of ['ecdh-sha2-nistp256', 'hmac-sha1', 'ecdsa-sha2-nistp256']) assert.ok(findings.some((l) => l.includes(name)), `${name} should be flagged:\n${report}`);
    assert.doesNotMatch(report, /mlkem768x25519-sha256/);
  } finally {
    await wide.close();
  }
});
