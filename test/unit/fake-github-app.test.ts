import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSign, type KeyObject } from 'node:crypto';
import { request } from 'undici';
import { FakeGitHub } from '../fakes/github.js';
import { FakeGitHubApp, generateAppKey } from '../fakes/github-app.js';

// The fake must refuse what GitHub refuses, or the App tests prove nothing (docs/external-systems.md, "GitHub Apps").

const key = generateAppKey();

function jwt(claims: Record<string, unknown>, opts: { alg?: string; privateKeyPem?: string } = {}): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg: opts.alg ?? 'RS256', typ: 'JWT' })}.${enc(claims)}`;
  const sig = createSign('RSA-SHA256').update(head).sign(opts.privateKeyPem ?? key.privateKeyPem).toString('base64url');
  return `${head}.${sig}`;
}

async function call(base: string, method: string, path: string, authorization: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${base}${path}`, { method: method as 'GET', headers: { authorization, 'user-agent': 't' } });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function withFake(fn: (base: string, app: FakeGitHubApp, gh: FakeGitHub) => Promise<void>, publicKey: KeyObject = key.publicKey): Promise<void> {
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_x' });
  const app = new FakeGitHubApp({ publicKey });
  gh.installApp(app).addTeam('ops');
  const base = await gh.start();
  try {
    await fn(base, app, gh);
  } finally {
    await gh.stop();
  }
}

test('the fake accepts a good App JWT and refuses, with 401 and GitHub\'s messages, a bad signature, a wrong issuer, a bad alg and bad iat/exp', async () => {
  await withFake(async (base) => {
    const now = Math.floor(Date.now() / 1000);
    const good = { iat: now - 30, exp: now + 570, iss: 4242 };
    assert.equal((await call(base, 'GET', '/app', `Bearer ${jwt(good)}`)).status, 200);
    assert.equal((await call(base, 'GET', '/app', `bearer ${jwt({ ...good, iss: '4242' })}`)).status, 200, 'scheme is case-insensitive; iss may be a string');
    const refused = async (token: string, message: RegExp) => {
      const r = await call(base, 'GET', '/orgs/acme/installation', `Bearer ${token}`);
      assert.equal(r.status, 401);
      assert.match(String(r.body.message), message);
    };
    await refused(jwt(good, { privateKeyPem: generateAppKey().privateKeyPem }), /^A JSON web token could not be decoded$/);
    await refused(jwt({ ...good, iss: 9999 }), /could not be decoded/);
    await refused(jwt(good, { alg: 'HS256' }), /could not be decoded/);
    await refused('not-a-jwt', /could not be decoded/);
    await refused(jwt({ ...good, iat: now - 30, exp: now + 900 }), /'Expiration time' claim \('exp'\) is too far in the future/);
    await refused(jwt({ ...good, iat: now - 300, exp: now + 360 }), /too far in the future/);
    await refused(jwt({ ...good, iat: now - 900, exp: now - 300 }), /'Expiration time' claim \('exp'\) must be a numeric value representing the future time/);
    await refused(jwt({ ...good, iat: now + 300, exp: now + 600 }), /'Issued at' claim \('iat'\) must be an Integer/);
    await refused(jwt({ ...good, iat: 'yesterday' }), /'Issued at' claim/);
  });
});

test('installation tokens: minted with expires_at, accepted as token or Bearer, 401 once expired; they cannot read /user, nor teams without Members', async () => {
  await withFake(async (base, app) => {
    const now = Math.floor(Date.now() / 1000);
    const auth = `Bearer ${jwt({ iat: now - 30, exp: now + 570, iss: 4242 })}`;
    const found = await call(base, 'GET', '/orgs/acme/installation', auth);
    assert.equal(found.body.id, 777);
    assert.equal((await call(base, 'GET', '/orgs/other/installation', auth)).status, 404);
    assert.deepEqual((await call(base, 'GET', '/app/installations/777', auth)).body.permissions, { members: 'read', metadata: 'read' });
    const minted = await call(base, 'POST', '/app/installations/777/access_tokens', auth);
    assert.equal(minted.status, 201);
    const token = String(minted.body.token);
    assert.match(token, /^ghs_/);
    assert.ok(Math.abs(Date.parse(String(minted.body.expires_at)) - Date.now() - 3_600_000) < 2000, 'expires in an hour');
    assert.equal((await call(base, 'POST', '/app/installations/1/access_tokens', auth)).status, 404);
    assert.equal((await call(base, 'GET', '/orgs/acme/teams/ops', `token ${token}`)).status, 200);
    assert.equal((await call(base, 'GET', '/orgs/acme/teams/ops', `Bearer ${token}`)).status, 200);
    assert.equal((await call(base, 'GET', '/user', `token ${token}`)).status, 403);
    assert.equal((await call(base, 'GET', '/app', `token ${token}`)).status, 401, 'a token is not a JWT');
    app.permissions = { metadata: 'read' };
    assert.equal((await call(base, 'GET', '/orgs/acme/teams/ops', `token ${token}`)).status, 403);
    app.expireTokens();
    const expired = await call(base, 'GET', '/orgs/acme', `token ${token}`);
    assert.equal(expired.status, 401);
    assert.equal(expired.body.message, 'Bad credentials');
  });
});

test('GHES mode serves under /api/v3 with its version header and, as GHES ships, no rate limiting', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_x', enterprise: { version: '3.17.2' } });
  const base = await gh.start();
  try {
    assert.match(base, /\/api\/v3$/);
    const res = await request(`${base}/orgs/acme`, { headers: { authorization: 'token ghp_x', 'user-agent': 't' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-github-enterprise-version'], '3.17.2');
    await res.body.dump();
    const root = await request(`${base.replace(/\/api\/v3$/, '')}/orgs/acme`, { headers: { authorization: 'token ghp_x', 'user-agent': 't' } });
    assert.equal(root.statusCode, 404, 'nothing outside /api/v3');
    await root.body.dump();
    const rl = await call(base, 'GET', '/rate_limit', 'token ghp_x');
    assert.equal(rl.status, 404);
    assert.equal(rl.body.message, 'Rate limiting is not enabled.');
  } finally {
    await gh.stop();
  }
});
