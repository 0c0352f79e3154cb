import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeGitHub, type CheckReport } from '../../src/github/probe.js';
import { FakeGitHub } from '../fakes/github.js';

const TOKEN = 'ghp_check_T0KEN_secret';

async function run(gh: FakeGitHub, teams: string[], token = TOKEN): Promise<CheckReport> {
  const apiUrl = await gh.start();
  try {
    return await probeGitHub({ apiUrl, token, org: 'acme', teams, requestTimeoutMs: 1_000, userAgent: 'teamssh-test/0' });
  } finally { await gh.stop(); }
}

const line = (r: CheckReport, name: string) => {
  const l = r.lines.find((x) => x.name === name);
  assert.ok(l, `no line ${name} in ${JSON.stringify(r.lines)}`);
  return l;
};
const noToken = (r: CheckReport) => { for (const l of r.lines) assert.ok(!l.detail.includes(TOKEN) && !l.detail.includes('wrong-token'), l.detail); };

test('a classic token with read:org, a visible org and teams: all green', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN, scopes: 'repo, read:org' }).addTeam('ops').addTeam('dev');
  const r = await run(gh, ['ops', 'dev']);
  assert.equal(r.ok, true, JSON.stringify(r.lines));
  assert.match(line(r, 'token').detail, /teamssh-bot/);
  assert.match(line(r, 'token scopes').detail, /read:org present/);
  assert.match(line(r, 'rate limit').detail, /\d+\/5000 requests left/);
  assert.equal(line(r, 'team acme/dev').ok, true);
  noToken(r);
});

test('a classic token without read:org is flagged; a missing team is named', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN, scopes: 'repo' }).addTeam('ops');
  const r = await run(gh, ['ops', 'nope']);
  assert.equal(r.ok, false);
  assert.equal(line(r, 'token scopes').ok, false);
  assert.match(line(r, 'token scopes').detail, /read:org MISSING/);
  assert.equal(line(r, 'team acme/ops').ok, true);
  assert.equal(line(r, 'team acme/nope').ok, false);
  assert.match(line(r, 'team acme/nope').detail, /not found/);
});

test('a fine-grained token is recognised by its missing scopes header', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN, scopes: null }).addTeam('ops');
  const r = await run(gh, ['ops']);
  assert.equal(r.ok, true);
  assert.match(line(r, 'token scopes').detail, /fine-grained/);
});

test('a bad token stops the check with one clear line and no token in it', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN }).addTeam('ops');
  const r = await run(gh, ['ops'], 'wrong-token');
  assert.equal(r.ok, false);
  // The server it talked to, then the token: nothing else once the token is refused.
  assert.deepEqual(r.lines.map((l) => l.name), ['GitHub API server', 'token']);
  assert.match(line(r, 'token').detail, /401/);
  noToken(r);
});

test('an exhausted rate limit and an unknown org are reported', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN }).addTeam('ops');
  const apiUrl = await gh.start();
  try {
    const wrongOrg = await probeGitHub({ apiUrl, token: TOKEN, org: 'other', teams: [], requestTimeoutMs: 1_000, userAgent: 't' });
    assert.equal(line(wrongOrg, 'organization other').ok, false);
    gh.exhaustRateLimit(true);
    const started = Date.now();
    const r = await probeGitHub({ apiUrl, token: TOKEN, org: 'acme', teams: ['ops'], requestTimeoutMs: 1_000, userAgent: 't' });
    assert.ok(Date.now() - started < 3_000, 'does not wait for the reset');
    assert.equal(line(r, 'rate limit').ok, false);
    assert.match(line(r, 'rate limit').detail, /^0\/5000/);
    assert.match(line(r, 'team acme/ops').detail, /rate_limited/);
    noToken(r);
  } finally { await gh.stop(); }
});

test('GitHub down is a failed check, not a hang', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: TOKEN });
  const apiUrl = await gh.start();
  gh.setDown(true);
  try {
    const r = await probeGitHub({ apiUrl, token: TOKEN, org: 'acme', teams: [], requestTimeoutMs: 1_000, userAgent: 't' });
    assert.equal(r.ok, false);
    assert.match(line(r, 'token').detail, /network/);
  } finally { await gh.stop(); }
});
