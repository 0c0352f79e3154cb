import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { createLogger } from '../../src/log.js';
import { GitHubDirectory, type MemberRecord } from '../../src/github/directory.js';
import { InstallationTokenCache, type GitHubAppCredentials } from '../../src/github/app-auth.js';
import { FakeGitHub } from '../fakes/github.js';
import { FakeGitHubApp, generateAppKey } from '../fakes/github-app.js';

const logLines: string[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });
const appKey = generateAppKey();
const pkcs8 = (pem: string) => createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }) as string;

/** A fake GitHub (no usable token) with the App installed, Alice active in ops. */
async function world(): Promise<{ gh: FakeGitHub; app: FakeGitHubApp; apiUrl: string }> {
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_not_the_one_used', scopes: null });
  const app = new FakeGitHubApp({ publicKey: appKey.publicKey });
  gh.installApp(app).addTeam('ops').addUser('Alice', { keys: ['ssh-ed25519 AAAAalice'] }).addMember('ops', 'alice');
  return { gh, app, apiUrl: await gh.start() };
}

function directory(apiUrl: string, app: GitHubAppCredentials): GitHubDirectory {
  return new GitHubDirectory({
    apiUrl, token: '', app, org: 'acme', teams: ['ops'],
    cacheTtlMs: 60_000, maxStaleMs: 600_000, negativeTtlMs: 30_000, requestTimeoutMs: 2000,
    userAgent: 'teamssh-test/0', logger,
  });
}

function member(rec: MemberRecord): void {
  assert.equal(rec.status, 'ok', JSON.stringify(rec));
  assert.deepEqual(rec.status === 'ok' && rec.teams, ['ops']);
}

test('as an App: the installation is looked up once by org, one token is minted and reused, every request carries it', async () => {
  const { gh, app, apiUrl } = await world();
  try {
    const dir = directory(apiUrl, { id: app.appId, privateKey: pkcs8(appKey.privateKeyPem) });
    member(await dir.refresh('alice'));
    member(await dir.refresh('alice'));
    assert.equal(gh.count('/orgs/acme/installation'), 1);
    assert.equal(app.minted, 1);
    assert.deepEqual(app.refusedJwts, []);
    assert.equal(gh.requests.filter((r) => r.status === 401).length, 0);
    // A configured installation id skips the lookup.
    gh.resetLog();
    member(await directory(apiUrl, { id: app.appId, privateKey: pkcs8(appKey.privateKeyPem), installationId: app.installationId }).lookup('alice'));
    assert.equal(gh.count('/orgs/acme/installation'), 0);
    assert.match(logLines.join(''), /"event":"github_app_installation","installationId":777/);
    assert.doesNotMatch(logLines.join(''), /ghs_/, 'no installation token in the log');
  } finally {
    await gh.stop();
  }
});

test('a token GitHub refuses early (revoked, expired) is replaced by a new one within the same lookup', async () => {
  const { gh, app, apiUrl } = await world();
  try {
    const dir = directory(apiUrl, { id: app.appId, privateKey: pkcs8(appKey.privateKeyPem), installationId: app.installationId });
    member(await dir.refresh('alice'));
    // auth-app itself retries a 401 with the same token for 5 s after minting (replication
    // delay); past that it gives up, and teamssh must mint a new token.
    await new Promise((r) => setTimeout(r, 5200));
    app.expireTokens();
    gh.resetLog();
    member(await dir.refresh('alice'));
    assert.equal(app.minted, 2, 'a second token was minted');
    assert.ok(gh.requests.some((r) => r.status === 401), 'GitHub did refuse the old token');
    assert.match(logLines.join(''), /"event":"github_app_token_refused"/);
  } finally {
    await gh.stop();
  }
});

test("a token is refreshed before its expires_at, so GitHub never sees an expired one", async () => {
  const { gh, app, apiUrl } = await world();
  try {
    app.tokenTtlMs = 4000;
    const dir = directory(apiUrl, { id: app.appId, privateKey: pkcs8(appKey.privateKeyPem), installationId: app.installationId });
    member(await dir.refresh('alice'));
    await new Promise((r) => setTimeout(r, 3300));
    member(await dir.refresh('alice'));
    assert.equal(app.minted, 2);
    assert.equal(gh.requests.filter((r) => r.status === 401).length, 0, 'no request went out with an expired token');
  } finally {
    await gh.stop();
  }
});

test('a key that is not the App\'s is refused by GitHub: the lookup is "unauthorized", no token is minted, nothing loops', async () => {
  const { gh, app, apiUrl } = await world();
  try {
    const dir = directory(apiUrl, { id: app.appId, privateKey: pkcs8(generateAppKey().privateKeyPem) });
    const rec = await dir.refresh('alice');
    assert.equal(rec.status, 'unavailable');
    assert.equal(rec.status === 'unavailable' && rec.reason, 'unauthorized');
    assert.match(rec.status === 'unavailable' ? rec.detail : '', /App's JWT \(401\): A JSON web token could not be decoded/);
    assert.equal(app.minted, 0);
    assert.equal(gh.total, 1, 'one refused lookup, no retry storm');
  } finally {
    await gh.stop();
  }
});

test('the token cache drops a token a margin before expires_at and keeps tokens minted after a refused request started', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const cache = new InstallationTokenCache(() => now);
  cache.set('777', 'ghs_a|2026-01-01T00:00:00.000Z|2026-01-01T01:00:00Z|all|members');
  now += 54 * 60_000;
  assert.ok(cache.get('777'), 'kept 6 minutes before expiry');
  now += 2 * 60_000;
  assert.equal(cache.get('777'), undefined, 'dropped 4 minutes before expiry (margin 5 minutes)');
  cache.set('777', 'ghs_b|2026-01-01T00:56:00.000Z|2026-01-01T01:56:00Z|all|members');
  cache.dropMintedBefore(Date.parse('2026-01-01T00:57:00Z') - 2 * 60_000);
  assert.ok(cache.get('777'), 'a token minted after the refused request started stays');
  cache.dropMintedBefore(Date.parse('2026-01-01T00:57:00Z'));
  assert.equal(cache.get('777'), undefined);
  cache.set('777', 'garbage');
  assert.equal(cache.get('777'), undefined, 'an unreadable entry is never used');
});
