import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakeGitHub } from '../fakes/github.js';
import { ensureTestAccount } from '../support/accounts.js';
import { TEST_ACCOUNT } from '../support/teamssh.js';
import { SETTINGS } from '../../src/config/settings.js';
import { serve } from '../support/serve-child.js';
import { cli } from '../support/cli.js';
import { waitFor } from '../support/poll.js';

test('--help describes every command, and each command describes its options and every variable', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  for (const c of ['serve', 'upload', 'check', 'sessions', 'kill']) assert.match(top.stdout, new RegExp(`\\b${c}\\b`));
  const serve = await cli(['serve', '--help']);
  assert.match(serve.stdout, /--config/);
  assert.match(serve.stdout, /--no-upload/);
  for (const s of SETTINGS) assert.match(serve.stdout, new RegExp(s.env));
  assert.match((await cli(['upload', '--help'])).stdout, /--config/);
  assert.match((await cli(['check', '--help'])).stdout, /--config/);
});

test('teamssh check passes on a good setup and names what is wrong on a bad one', async () => {
  await ensureTestAccount(TEST_ACCOUNT);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-check-'));
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_check' });
  gh.addTeam('ops');
  const url = await gh.start();
  try {
    const env = {
      TEAMSSH_GITHUB_ORG: 'acme',
      TEAMSSH_GITHUB_TEAMS: 'ops',
      GITHUB_TOKEN: 'ghp_check',
      TEAMSSH_GITHUB_API_URL: url,
      TEAMSSH_SHELL_USER: TEST_ACCOUNT,
      TEAMSSH_STATE_DIR: path.join(dir, 'state'),
      TEAMSSH_RECORDINGS_DIR: path.join(dir, 'rec'),
    };
    const good = await cli(['check'], env);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /all checks passed/);
    assert.match(good.stdout, /read:org/);
    assert.doesNotMatch(good.stdout + good.stderr, /ghp_check/);
    // This machine has a writable cgroup v2; the forced fallback says it is weaker.
    assert.match(good.stdout, /^ok +session containment: cgroup \(one cgroup v2 per session under \/.+\/teamssh\)$/m);
    const scan = await cli(['check'], { ...env, TEAMSSH_SESSION_CONTAINMENT: 'process-scan' });
    assert.match(scan.stdout, /^ok +session containment: process scan, weaker \(forced/m);
    const bad = await cli(['check'], { ...env, TEAMSSH_GITHUB_TEAMS: 'ops,ghosts', TEAMSSH_SHELL_USER: 'no-such-account-x' });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAIL.*ghosts/);
    assert.match(bad.stdout, /FAIL.*no-such-account-x/);
    const token = await cli(['check'], { ...env, GITHUB_TOKEN: 'wrong' });
    assert.equal(token.code, 1);
    assert.match(token.stdout, /FAIL.*token/i);
  } finally {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve starts, and says at once when a configured team is invisible to the token', async () => {
  await ensureTestAccount(TEST_ACCOUNT);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-warn-'));
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_warn' });
  gh.addTeam('ops');
  try {
    const srv = await serve({
      TEAMSSH_LISTEN: '127.0.0.1:0',
      TEAMSSH_GITHUB_ORG: 'acme',
      TEAMSSH_GITHUB_TEAMS: 'ops,ghosts',
      GITHUB_TOKEN: 'ghp_warn',
      TEAMSSH_GITHUB_API_URL: await gh.start(),
      TEAMSSH_SHELL_USER: TEST_ACCOUNT,
      TEAMSSH_STATE_DIR: path.join(dir, 'state'),
      TEAMSSH_RECORDINGS_DIR: path.join(dir, 'rec'),
    });
    await waitFor(() => /"event":"github_check_failed".*ghosts/.test(srv.output()), { timeoutMs: 5000, what: 'github_check_failed for team ghosts', detail: srv.output });
    assert.match(srv.output(), /"event":"github_check_failed".*ghosts/);
    assert.doesNotMatch(srv.output(), /github_check_failed.*"check":"team ops"/);
    srv.proc.kill('SIGTERM');
    assert.equal((await srv.exited).code, 0);
  } finally {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
