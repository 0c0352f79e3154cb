import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { metrics, registry, showUploadMetrics, uploaderRegistry } from '../../src/metrics/metrics.js';
import '../../src/metrics/live-gauges.js';
import { routeTemplate } from '../../src/metrics/github-hook.js';
import { GitHubPulse } from '../../src/github/pulse.js';

// prom-client's process metrics (collectDefaultMetrics, under our prefix); the README names them as a family.
const isDefault = (name: string) => /^teamssh_(process|nodejs)_/.test(name);

async function catalogue(): Promise<Array<{ name: string; type: string; labelNames: string[] }>> {
  const json = await registry.getMetricsAsJSON();
  return json.map((m) => ({ name: m.name, type: String(m.type), labelNames: [...((registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? [])] }));
}

/** The metric names of the README's "Metrics and health" table. */
async function readmeTable(): Promise<string[]> {
  const readme = await readFile('README.md', 'utf8');
  const section = /^## Metrics and health\n([\s\S]*?)^## /m.exec(readme)?.[1];
  assert.ok(section, 'README has a "Metrics and health" section');
  return [...section.matchAll(/^\| `(teamssh_[a-z0-9_]+)(?:\{[^`]*\})?` \|/gm)].map((m) => m[1]!);
}

test('every metric is named teamssh_*, counters end in _total, and no label can carry a login, key or address', async () => {
  const all = await catalogue();
  assert.ok(all.length > 20);
  for (const m of all) {
    assert.match(m.name, /^teamssh_[a-z0-9_]+$/, m.name);
    if (m.type === 'counter') assert.match(m.name, /_total$/, `${m.name} is a counter`);
    for (const l of m.labelNames) assert.doesNotMatch(l, /login|user|key|fingerprint|ip|address|host|session/i, `${m.name}{${l}}`);
  }
});

test('the README metrics table lists every metric teamssh registers, and nothing else', async () => {
  const table = await readmeTable();
  const ours = (await catalogue()).map((m) => m.name).filter((n) => !isDefault(n));
  assert.deepEqual([...new Set(table)].sort(), [...ours].sort());
});

test('`teamssh upload` exports the upload metrics, the backlog and the process metrics, as the README lists them, and none of the server\'s', async () => {
  const readme = await readFile('README.md', 'utf8');
  const listed = /^`teamssh upload` exports only what describes it: ([\s\S]*?) and the\nprocess metrics\./m.exec(readme)?.[1];
  assert.ok(listed, 'README "The split uploader" lists what `teamssh upload` exports');
  const names = (await uploaderRegistry.getMetricsAsJSON()).map((m) => m.name);
  assert.deepEqual([...listed.matchAll(/`(teamssh_[a-z0-9_]+)`/g)].map((m) => m[1]!).sort(), names.filter((n) => !isDefault(n)).sort());
  assert.deepEqual(names.filter(isDefault).sort(), (await catalogue()).map((m) => m.name).filter(isDefault).sort(), 'the same process metrics as the server');
  // One metric object per name across both roles: an upload counted is counted in both.
  for (const n of names) assert.equal(uploaderRegistry.getSingleMetric(n), registry.getSingleMetric(n), n);
});

test('`serve` without its uploader (--no-upload) exports no upload metrics rather than zeros; they come back, same objects, when it runs one again', async () => {
  const uploadOnly = ['teamssh_uploads_total', 'teamssh_upload_duration_seconds', 'teamssh_upload_paused'];
  metrics.uploads.inc({ result: 'uploaded' });
  const before = await registry.getSingleMetricAsString('teamssh_uploads_total');
  try {
    showUploadMetrics(false);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    for (const n of uploadOnly) assert.ok(!names.includes(n), `${n} is absent`);
    assert.ok(names.includes('teamssh_recordings_pending'), 'the backlog of the shared directory stays');
    assert.ok(names.includes('teamssh_auth_attempts_total'));
    for (const n of uploadOnly) assert.ok(uploaderRegistry.getSingleMetric(n), `${n} stays in \`teamssh upload\`'s registry`);
  } finally {
    showUploadMetrics(true);
  }
  for (const n of uploadOnly) assert.equal(registry.getSingleMetric(n), uploaderRegistry.getSingleMetric(n), n);
  assert.equal(await registry.getSingleMetricAsString('teamssh_uploads_total'), before, 'the counts carried over');
});

test('config/prometheus-alerts.example.yaml parses and uses only metrics that exist', async () => {
  const doc = parse(await readFile('config/prometheus-alerts.example.yaml', 'utf8')) as { groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; labels?: { severity?: string } }> }> };
  const rules = doc.groups.flatMap((g) => g.rules);
  const names = new Set((await catalogue()).map((m) => m.name));
  const alerts = rules.map((r) => r.alert);
  for (const want of ['TeamsshUploadPaused', 'TeamsshRecordingsPendingGrowing', 'TeamsshGitHubUnavailable', 'TeamsshAuthRefusalSpike']) assert.ok(alerts.includes(want), want);
  for (const r of rules) {
    assert.ok(r.expr && r.labels?.severity, `${r.alert} has an expression and a severity`);
    // A histogram's series are NAME_bucket, NAME_sum and NAME_count.
    const used = [...r.expr.matchAll(/\bteamssh_[a-z0-9_]+/g)].map(([n]) => (names.has(n) ? n : n.replace(/_(bucket|sum|count)$/, '')));
    assert.ok(used.length > 0, `${r.alert} uses a teamssh metric`);
    for (const u of used) assert.ok(names.has(u), `${r.alert}: ${u} is not a teamssh metric`);
  }
});

test('GitHub request URLs become route templates, never logins', () => {
  const base = 'https://ghe.example/api/v3';
  const cases: Array<[string, string]> = [
    ['/users/alice', '/users/:u'],
    ['/users/{username}', '/users/:u'],
    ['/users/Alice/keys?per_page=100', '/users/:u/keys'],
    [`${base}/users/Alice/keys?per_page=100&page=2`, '/users/:u/keys'],
    ['https://api.github.com/users/bob/keys?page=3', '/users/:u/keys'],
    ['https://ghe.example/api/v3/users/bob', '/users/:u'],
    ['/orgs/acme/teams/ops/memberships/alice', '/orgs/:org/teams/:team/memberships/:u'],
    ['/orgs/{org}/teams/{team_slug}/memberships/{username}', '/orgs/:org/teams/:team/memberships/:u'],
    ['/orgs/acme/blocks/mallory', '/orgs/:org/blocks/:u'],
    ['/orgs/acme', '/orgs/:org'],
    ['/rate_limit', '/rate_limit'],
    ['/user', '/user'],
    ['/repos/acme/secret-project', 'other'],
  ];
  for (const [url, want] of cases) assert.equal(routeTemplate(url, base), want, url);
});

test('GitHub counts as ready until it fails past max-stale; an answer makes it ready again', () => {
  const p = new GitHubPulse();
  assert.equal(p.state(1000, 0).ok, true, 'nothing asked yet');
  p.failed(0);
  assert.equal(p.state(1000, 10).ok, false, 'the first request failed: no answer ever');
  p.answered(100);
  p.failed(200);
  assert.equal(p.state(1000, 1099).ok, true, 'failing, but answered within max-stale');
  assert.equal(p.state(1000, 1100).ok, false, 'failing past max-stale');
  p.answered(1200);
  assert.equal(p.state(1000, 5000).ok, true, 'quiet since the last answer is not a failure');
});
