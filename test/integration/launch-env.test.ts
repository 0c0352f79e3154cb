import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Account } from '../../src/launch/account.js';
import { buildSessionEnv, isNeverAllowed, type SessionEnvInput } from '../../src/launch/env.js';
import { spawnProgram } from '../../src/launch/spawn.js';
import { ensureTestAccount } from '../support/accounts.js';
import { observe } from '../support/session-harness.js';

let account: Account;
before(async () => {
  account = await ensureTestAccount('tsshenv');
});

function input(extra: Partial<SessionEnvInput> = {}): SessionEnvInput {
  return {
    account: { name: 'alice', home: '/home/alice', shell: '/bin/bash' },
    path: '/usr/bin:/bin',
    connection: { remoteAddress: '::ffff:10.0.0.5', remotePort: 51000, localAddress: '::ffff:10.0.0.1', localPort: 22 },
    githubLogin: 'Alice',
    sessionId: 's-1',
    ...extra,
  };
}

test('the fixed allowlist: account, PATH, connection, login, session id; no TERM without a pty', () => {
  const { env, refused } = buildSessionEnv(input());
  assert.deepEqual(env, {
    USER: 'alice',
    LOGNAME: 'alice',
    HOME: '/home/alice',
    SHELL: '/bin/bash',
    PATH: '/usr/bin:/bin',
    SSH_CONNECTION: '10.0.0.5 51000 10.0.0.1 22',
    SSH_CLIENT: '10.0.0.5 51000 22',
    TEAMSSH_GITHUB_LOGIN: 'Alice',
    TEAMSSH_SESSION_ID: 's-1',
  });
  assert.deepEqual(refused, []);
  const withPty = buildSessionEnv(input({ term: 'xterm', command: 'git-upload-pack x' })).env;
  assert.equal(withPty.TERM, 'xterm');
  assert.equal(withPty.SSH_ORIGINAL_COMMAND, 'git-upload-pack x');
});

test('client env: LANG and LC_* accepted, dangerous and unlisted names refused', () => {
  const clientEnv = [
    { key: 'LANG', val: 'C.UTF-8' },
    { key: 'LC_ALL', val: 'en_US.UTF-8' },
    { key: 'LD_PRELOAD', val: '/tmp/x.so' },
    { key: 'BASH_ENV', val: '/tmp/x' },
    { key: 'PATH', val: '/tmp' },
    { key: 'EDITOR_X', val: 'nano' },
    { key: 'bad-name', val: 'x' },
  ];
  const { env, refused } = buildSessionEnv(input({ clientEnv }));
  assert.equal(env.LANG, 'C.UTF-8');
  assert.equal(env.LC_ALL, 'en_US.UTF-8');
  assert.equal(env.PATH, '/usr/bin:/bin');
  assert.equal(env.LD_PRELOAD, undefined);
  assert.equal(env.BASH_ENV, undefined);
  assert.deepEqual(refused, ['LD_PRELOAD', 'BASH_ENV', 'PATH', 'EDITOR_X', 'bad-name']);
});

test('the never-list wins over an operator allowlist, hooks included', () => {
  const allowAll = ['*'];
  const clientEnv = ['LD_LIBRARY_PATH', 'GLIBC_TUNABLES', 'TEAMSSH_GITHUB_LOGIN', 'SSH_TTY', 'HOME', 'PYTHONSTARTUP', 'NODE_OPTIONS', 'ld_preload', 'TZ']
    .map((key) => ({ key, val: 'evil' }));
  const { env, refused, refusedHook } = buildSessionEnv(
    input({ clientEnv, clientEnvAllow: allowAll, hookEnv: { TEAM: 'platform', LD_PRELOAD: '/x.so', 'bad-name': 'x', HOME: '/tmp' } }),
  );
  assert.deepEqual(refused, clientEnv.map((c) => c.key).filter((k) => k !== 'TZ'));
  assert.deepEqual(refusedHook, ['LD_PRELOAD', 'bad-name', 'HOME']);
  assert.equal(env.TZ, 'evil');
  assert.equal(env.TEAM, 'platform');
  assert.equal(env.HOME, '/home/alice');
  assert.equal(env.TEAMSSH_GITHUB_LOGIN, 'Alice');
  for (const name of ['LD_PRELOAD', 'BASH_ENV', 'ENV', 'IFS', 'SHELLOPTS', 'PS4', 'PROMPT_COMMAND', 'GCONV_PATH', 'MALLOC_CHECK_', 'PERL5OPT', 'RUBYOPT', 'GIT_SSH_COMMAND']) {
    assert.ok(isNeverAllowed(name), name);
  }
  assert.ok(!isNeverAllowed('LANG'));
});

test('client values with NUL or over 4 KiB are refused', () => {
  const { env, refused } = buildSessionEnv(input({ clientEnv: [{ key: 'LANG', val: 'a\0b' }, { key: 'LC_X', val: 'x'.repeat(5000) }] }));
  assert.deepEqual(refused, ['LANG', 'LC_X']);
  assert.equal(env.LANG, undefined);
});

function sessionEnv(pty: boolean): Record<string, string> {
  return buildSessionEnv({
    account,
    path: '/usr/bin:/bin',
    ...(pty ? { term: 'xterm' } : {}),
    connection: { remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 2222 },
    githubLogin: 'octocat',
    sessionId: 'env-test',
    clientEnv: [
      { key: 'LANG', val: 'C.UTF-8' },
      { key: 'LC_ALL', val: 'C' },
      { key: 'LD_PRELOAD', val: '/tmp/evil.so' },
      { key: 'BASH_ENV', val: '/tmp/evil' },
      { key: 'PATH', val: '/tmp' },
    ],
  }).env;
}

function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

for (const pty of [false, true]) {
  test(`${pty ? 'pty' : 'pipes'}: the program sees exactly the built environment, nothing of the server's`, async () => {
    process.env.GITHUB_TOKEN = 'ghp_must_not_leak';
    process.env.LD_PRELOAD = '';
    const env = sessionEnv(pty);
    const s = spawnProgram({ account, allowRoot: false, file: '/usr/bin/env', args: [], env, ...(pty ? { pty: { cols: 80, rows: 24, term: 'xterm' } } : {}) });
    const o = observe(s);
    assert.deepEqual(await o.exited, { code: 0, signal: null });
    const seen = parseEnv(o.stdout());
    // The launcher adds SSH_TTY for a terminal, and keeps node-pty's PWD truthful.
    const expected = pty ? { ...env, SSH_TTY: seen.SSH_TTY ?? '(missing)', PWD: account.home } : env;
    assert.deepEqual(seen, expected);
    if (pty) assert.match(seen.SSH_TTY!, /^\/dev\/pts\/\d+$/);
    assert.equal(seen.GITHUB_TOKEN, undefined);
    assert.equal(seen.LANG, 'C.UTF-8');
    assert.equal(seen.LC_ALL, 'C');
    assert.equal(seen.PATH, '/usr/bin:/bin');
    delete process.env.GITHUB_TOKEN;
    delete process.env.LD_PRELOAD;
  });
}
