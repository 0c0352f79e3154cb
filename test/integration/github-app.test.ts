import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakeGitHub } from '../fakes/github.js';
import { FakeGitHubApp, generateAppKey } from '../fakes/github-app.js';
import { ensureTestAccount } from '../support/accounts.js';
import { startHarness, TEST_ACCOUNT } from '../support/teamssh.js';
import { serve } from '../support/serve-child.js';
import { cli } from '../support/cli.js';
import { waitFor } from '../support/poll.js';

const appKey = generateAppKey();

test('GitHub App: the real ssh client logs in; an installation token GitHub refuses mid-run is replaced without a refused login', async () => {
  const app = new FakeGitHubApp({ publicKey: appKey.publicKey });
  const h = await startHarness({
    // No usable token anywhere: only the App can get teamssh an answer.
    github: { token: 'ghp_unused_by_teamssh', scopes: null },
    env: { GITHUB_TOKEN: '', TEAMSSH_CACHE_TTL: '1' },
    setup: async (gh, dir) => {
      gh.installApp(app);
      const file = path.join(dir, 'app.pem');
      await writeFile(file, appKey.privateKeyPem, { mode: 0o600 });
      return { TEAMSSH_GITHUB_APP_ID: String(app.appId), TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: file };
    },
  });
  try {
    const first = await h.ssh('alice', h.alice, ['echo', 'hello-app']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), 'hello-app');
    assert.equal(app.minted, 1);
    assert.equal(h.github.count('/orgs/acme/installation'), 1, 'the installation was looked up by org');
    // Past auth-app's 5 s replication-delay window, and past the 1 s cache TTL, GitHub revokes the token.
    await new Promise((r) => setTimeout(r, 5200));
    app.expireTokens();
    h.github.resetLog();
    const second = await h.ssh('alice', h.alice, ['echo', 'still-in']);
    assert.equal(second.code, 0, `login refused after the token was revoked: ${second.stderr}`);
    assert.equal(second.stdout.trim(), 'still-in');
    assert.equal(app.minted, 2, 'a new token was minted');
    assert.ok(h.github.requests.some((r) => r.status === 401), 'GitHub did refuse the revoked token');
    // The user and membership requests go out together, so each may meet the revoked token once.
    assert.ok(h.log.events('github_app_token_refused').length >= 1);
    assert.equal(h.log.events('auth_refused').length, 0);
    const all = h.log.raw.join('');
    assert.doesNotMatch(all, /ghs_/, 'no installation token in the log');
    assert.doesNotMatch(all, /PRIVATE KEY/, 'no key in the log');
  } finally {
    await h.close();
  }
});

test('teamssh check with a GitHub App: names the App, its installation and permissions; fails clearly on a missing Members permission, a wrong key, no installation, or a token as well', async () => {
  await ensureTestAccount(TEST_ACCOUNT);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-appcheck-'));
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_unused', scopes: null });
  const app = new FakeGitHubApp({ publicKey: appKey.publicKey });
  gh.installApp(app).addTeam('ops');
  const url = await gh.start();
  try {
    const keyFile = path.join(dir, 'app.pem');
    const wrongFile = path.join(dir, 'other.pem');
    await writeFile(keyFile, appKey.privateKeyPem, { mode: 0o600 });
    await writeFile(wrongFile, generateAppKey().privateKeyPem, { mode: 0o600 });
    const env = {
      TEAMSSH_GITHUB_ORG: 'acme',
      TEAMSSH_GITHUB_TEAMS: 'ops',
      TEAMSSH_GITHUB_APP_ID: String(app.appId),
      TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: keyFile,
      TEAMSSH_GITHUB_API_URL: url,
      TEAMSSH_SHELL_USER: TEST_ACCOUNT,
      TEAMSSH_STATE_DIR: path.join(dir, 'state'),
      TEAMSSH_RECORDINGS_DIR: path.join(dir, 'rec'),
    };
    const good = await cli(['check'], env);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^ok +GitHub API server: http:\/\/127\.0\.0\.1:\d+: GitHub \(no GitHub Enterprise Server version header\)$/m);
    assert.match(good.stdout, /^ok +authentication: GitHub App teamssh-test \(id 4242\) with the key in .*app\.pem: GitHub accepted its JWT$/m);
    assert.match(good.stdout, /^ok +installation: 777 \(found with GET \/orgs\/acme\/installation\) on acme$/m);
    assert.match(good.stdout, /^ok +installation permissions: members:read, metadata:read; organization Members: read present$/m);
    assert.match(good.stdout, /^ok +team acme\/ops: visible/m);
    assert.doesNotMatch(good.stdout + good.stderr, /ghs_|PRIVATE KEY/);
    const configured = await cli(['check'], { ...env, TEAMSSH_GITHUB_APP_INSTALLATION_ID: '777' });
    assert.match(configured.stdout, /^ok +installation: 777 \(configured\) on acme$/m);

    app.permissions = { metadata: 'read' };
    const noMembers = await cli(['check'], env);
    assert.equal(noMembers.code, 1);
    assert.match(noMembers.stdout, /^FAIL +installation permissions: metadata:read; organization "Members: read" is MISSING/m);
    assert.match(noMembers.stdout, /^FAIL +team acme\/ops:/m);
    app.permissions = { members: 'read', metadata: 'read' };

    const wrong = await cli(['check'], { ...env, TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: wrongFile });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /^FAIL +authentication: GitHub App id 4242 with the key in .*other\.pem: GitHub rejected the App's JWT \(401\): A JSON web token could not be decoded: the private key is not this App's/m);

    app.installed = false;
    const missing = await cli(['check'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^FAIL +installation: the App is not installed on organization acme \(GET \/orgs\/acme\/installation: 404\)/m);
    app.installed = true;

    const both = await cli(['check'], { ...env, GITHUB_TOKEN: 'ghp_also' });
    assert.equal(both.code, 2, 'a configuration error');
    assert.match(both.stderr, /GITHUB_TOKEN \(github\.token\) and TEAMSSH_GITHUB_APP_ID \(github\.app\): both set/);
    const badFile = await cli(['check'], { ...env, TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: path.join(dir, 'absent.pem') });
    assert.equal(badFile.code, 2);
    assert.match(badFile.stderr, /TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE \(github\.app\.privateKeyFile\): cannot read .*absent\.pem: ENOENT/);
  } finally {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve with a key that is not the App\'s says so at start, clearly and without the key', async () => {
  await ensureTestAccount(TEST_ACCOUNT);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-appserve-'));
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_unused', scopes: null });
  const app = new FakeGitHubApp({ publicKey: appKey.publicKey });
  gh.installApp(app).addTeam('ops');
  let srv: Awaited<ReturnType<typeof serve>> | undefined;
  try {
    const wrongFile = path.join(dir, 'other.pem');
    await writeFile(wrongFile, generateAppKey().privateKeyPem, { mode: 0o600 });
    srv = await serve({
      TEAMSSH_LISTEN: '127.0.0.1:0',
      TEAMSSH_GITHUB_ORG: 'acme',
      TEAMSSH_GITHUB_TEAMS: 'ops',
      TEAMSSH_GITHUB_APP_ID: String(app.appId),
      TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: wrongFile,
      TEAMSSH_GITHUB_API_URL: await gh.start(),
      TEAMSSH_SHELL_USER: TEST_ACCOUNT,
      TEAMSSH_STATE_DIR: path.join(dir, 'state'),
      TEAMSSH_RECORDINGS_DIR: path.join(dir, 'rec'),
    });
    const failed = /"event":"github_check_failed","check":"authentication".*GitHub rejected the App's JWT \(401\): A JSON web token could not be decoded/;
    const out = srv.output;
    await waitFor(() => failed.test(out()), { timeoutMs: 8000, what: 'github_check_failed for the App key', detail: srv.output });
    assert.match(srv.output(), /"level":"error"[^\n]*"event":"github_check_failed","check":"authentication"/, 'at error level');
    assert.doesNotMatch(srv.output(), /PRIVATE KEY|ghs_/);
    srv.proc.kill('SIGTERM');
    assert.equal((await srv.exited).code, 0);
  } finally {
    if (srv && srv.proc.exitCode === null && srv.proc.signalCode === null) srv.proc.kill('SIGKILL');
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
