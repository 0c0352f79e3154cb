import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeKey, startHarness, type ClientKey, type Harness } from '../support/teamssh.js';
import { connect } from '../support/ssh2-client.js';
import { jumpSetup, TARGET_ACCOUNT, type JumpSetup } from '../support/sshd-target.js';
import { jumpKeyCommand } from '../../src/jump/jump-key-command.js';

const run = promisify(execFile);

/** An ssh_config for the real client: `bastion` is teamssh, `db1` is reached with ProxyJump through it. */
async function clientConfig(h: Harness, outer: ClientKey, inner: ClientKey, knownHosts: string): Promise<string> {
  const file = path.join(h.dir, `ssh_config_${path.basename(outer.path)}_${path.basename(inner.path)}`);
  const common = ['IdentitiesOnly yes', 'IdentityAgent none', 'BatchMode yes', 'LogLevel ERROR'];
  await writeFile(
    file,
    [
      'Host bastion', '  HostName 127.0.0.1', `  Port ${h.port}`, '  User alice', `  IdentityFile ${outer.path}`, '  UserKnownHostsFile /dev/null', '  StrictHostKeyChecking no', ...common.map((c) => `  ${c}`),
      'Host db1 db9', `  User ${TARGET_ACCOUNT}`, '  ProxyJump bastion', `  IdentityFile ${inner.path}`, `  UserKnownHostsFile ${knownHosts}`, '  StrictHostKeyChecking yes', ...common.map((c) => `  ${c}`),
      '',
    ].join('\n'),
  );
  return file;
}

function ssh(config: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run('ssh', ['-F', config, ...args], { timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === 'number' ? e.code : null, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  ).then((r) => (void input, r));
}

describe('ProxyJump (ssh -J) to a target is terminated and recorded by teamssh', () => {
  let h: Harness;
  let js: JumpSetup;
  let bob: ClientKey;
  let knownHosts: string;
  before(async () => {
    h = await startHarness({
      env: { TEAMSSH_GITHUB_TEAMS: 'ops,dev' },
      setup: async (gh, dir) => {
        bob = await makeKey(dir, 'bob');
        gh.addTeam('dev').addUser('bob', { keys: [bob.publicLine] }).addMember('dev', 'bob');
        js = await jumpSetup(dir);
        return { TEAMSSH_CONFIG: js.configFile };
      },
    });
    knownHosts = path.join(h.dir, 'known_hosts');
    await writeFile(knownHosts, await jumpKeyCommand(h.config, true));
  });
  after(async () => {
    await h?.close();
    await js?.target.stop();
  });

  test('ssh -J with exec: the known_hosts line from jump-key --known-hosts verifies, the session runs on the target and is recorded', async () => {
    const config = await clientConfig(h, h.alice, h.alice, knownHosts);
    const r = await ssh(config, ['db1', 'echo via-proxyjump-$(whoami); exit 5']);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, 'via-proxyjump-teamssh-tgt\n');
    const end = await h.log.waitFor('session_end', (l) => l.target === 'db1' && l.exitStatus === 5);
    assert.ok(end.recording, 'the ProxyJump session is recorded');
    await h.log.waitFor('proxy_jump', (l) => l.target === 'db1');
  });

  test('ssh -J with a pty', async () => {
    const config = await clientConfig(h, h.alice, h.alice, knownHosts);
    const r = await ssh(config, ['-tt', 'db1', 'tty; echo pty-ok']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\/dev\/pts\/\d+\r\npty-ok/);
  });

  test('the inner connection must authenticate with a key of the same GitHub login', async () => {
    const config = await clientConfig(h, h.alice, bob, knownHosts);
    const r = await ssh(config, ['db1', 'echo should-not-run']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    // Asked about alice (the outer login), GitHub does not list bob's key.
    await h.log.waitFor('auth_refused', (l) => l.reason === 'key_not_on_github' && l.proxyJump !== undefined);
  });

  test('a direct-tcpip to a non-target (or a target the login may not reach) stays refused and logged', async () => {
    const c = await connect(h.port, 'alice', h.alice);
    try {
      const err = await new Promise<Error | undefined>((resolve) => c.forwardOut('127.0.0.1', 0, '127.0.0.1', 9, (e) => resolve(e ?? undefined)));
      assert.ok(err, 'forwarding to a non-target is refused');
      const byName = await new Promise<Error | undefined>((resolve) => c.forwardOut('127.0.0.1', 0, 'db9', 22, (e) => resolve(e ?? undefined)));
      assert.ok(byName);
    } finally {
      c.end();
    }
    await h.log.waitFor('channel_refused', (l) => l.request === 'port_forwarding_local' && l.destination === 'db9:22');
    const bobConn = await connect(h.port, 'bob', bob);
    try {
      const e = await new Promise<Error | undefined>((resolve) => bobConn.forwardOut('127.0.0.1', 0, 'db1', 22, (x) => resolve(x ?? undefined)));
      assert.ok(e, 'bob (team dev) may not jump to db1 (team ops)');
    } finally {
      bobConn.end();
    }
  });
});
