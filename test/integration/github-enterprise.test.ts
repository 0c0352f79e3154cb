import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakeGitHub } from '../fakes/github.js';
import { FakeGitHubApp, generateAppKey } from '../fakes/github-app.js';
import { ensureTestAccount } from '../support/accounts.js';
import { startHarness, TEST_ACCOUNT } from '../support/teamssh.js';
import { cli } from '../support/cli.js';
import { waitFor } from '../support/poll.js';

// GitHub Enterprise Server: the same REST API under https://HOST/api/v3, and the same webhook
// signature (docs/external-systems.md). The fake answers nothing outside /api/v3.
const GHES = { version: '3.17.2' };
const SECRET = 'ghes-webhook-secret';

test('GHES: the real ssh client logs in through an /api/v3 API, and a signed GHES webhook revokes access', async () => {
  const h = await startHarness({
    github: { enterprise: GHES },
    env: { TEAMSSH_HTTP_LISTEN: '127.0.0.1:0', TEAMSSH_GITHUB_WEBHOOK_SECRET: SECRET, TEAMSSH_REVALIDATE_INTERVAL: '0' },
  });
  try {
    assert.match(h.config.github.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/v3$/);
    const first = await h.ssh('alice', h.alice, ['echo', 'on-ghes']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), 'on-ghes');
    assert.ok(h.github.requests.length > 0 && h.github.requests.every((r) => !r.path.startsWith('/not-under/')), 'every request went under /api/v3');

    const hook = h.github.hook(`http://127.0.0.1:${h.server.httpAddress!.port}/webhooks/github`, SECRET);
    const forged = await hook.send('membership', h.github.payload('membership', 'removed', { login: 'Alice', team: 'ops' }), { secret: 'not-the-secret' });
    assert.equal(forged.status, 401, 'a delivery signed with another secret is refused');
    h.github.removeMember('ops', 'Alice');
    const [delivery] = await hook.settled();
    assert.ok(delivery && delivery.status >= 200 && delivery.status < 300, `GHES delivery answered ${delivery?.status}`);
    await waitFor(() => h.log.events('webhook_recheck').length > 0, { timeoutMs: 5000, what: 'the webhook recheck' });
    const after = await h.ssh('alice', h.alice, ['echo', 'should-not-run']);
    assert.notEqual(after.code, 0);
    assert.doesNotMatch(after.stdout, /should-not-run/);
  } finally {
    await h.close();
  }
});

test('GHES: teamssh check names the server and its version, accepts GHES without rate limiting, with a token and with an App', async () => {
  await ensureTestAccount(TEST_ACCOUNT);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-ghes-'));
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_ghes', enterprise: GHES });
  const key = generateAppKey();
  const app = new FakeGitHubApp({ publicKey: key.publicKey });
  gh.installApp(app).addTeam('ops');
  const url = await gh.start();
  try {
    const env = {
      TEAMSSH_GITHUB_ORG: 'acme',
      TEAMSSH_GITHUB_TEAMS: 'ops',
      TEAMSSH_GITHUB_API_URL: url,
      TEAMSSH_SHELL_USER: TEST_ACCOUNT,
      TEAMSSH_STATE_DIR: path.join(dir, 'state'),
      TEAMSSH_RECORDINGS_DIR: path.join(dir, 'rec'),
    };
    const server = new RegExp(`^ok +GitHub API server: ${url.replace(/[.]/g, '\\.')}: GitHub Enterprise Server 3\\.17\\.2$`, 'm');
    const token = await cli(['check'], { ...env, GITHUB_TOKEN: 'ghp_ghes' });
    assert.equal(token.code, 0, token.stdout + token.stderr);
    assert.match(token.stdout, server);
    assert.match(token.stdout, /^ok +rate limit: rate limiting is not enabled on this server \(GitHub Enterprise Server\)$/m);

    const keyFile = path.join(dir, 'app.pem');
    await writeFile(keyFile, key.privateKeyPem, { mode: 0o600 });
    const asApp = await cli(['check'], { ...env, TEAMSSH_GITHUB_APP_ID: String(app.appId), TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: keyFile });
    assert.equal(asApp.code, 0, asApp.stdout + asApp.stderr);
    assert.match(asApp.stdout, server);
    assert.match(asApp.stdout, /^ok +installation: 777 \(found with GET \/orgs\/acme\/installation\) on acme$/m);

    // A base URL without /api/v3 reaches nothing on GHES: check says so instead of passing.
    const wrong = await cli(['check'], { ...env, GITHUB_TOKEN: 'ghp_ghes', TEAMSSH_GITHUB_API_URL: url.replace(/\/api\/v3$/, '') });
    assert.equal(wrong.code, 1);
  } finally {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
