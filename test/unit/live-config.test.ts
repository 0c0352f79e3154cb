import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { LIVE_SETTINGS, LiveConfig, type ConfigChange } from '../../src/config/live.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/settings.js';

const BASE = {
  TEAMSSH_GITHUB_ORG: 'acme',
  TEAMSSH_GITHUB_TEAMS: 'ops',
  GITHUB_TOKEN: 'ghp_old_SECRET_value',
  TEAMSSH_SHELL_USER: 'nobody',
};
const load = (env: Record<string, string> = {}) => loadConfig({ env: { ...BASE, ...env } });

test('every live setting is a real setting', () => {
  const paths = new Set(SETTINGS.map((s) => s.path));
  assert.deepEqual([...LIVE_SETTINGS].filter((p) => !paths.has(p)), []);
});

test('the README Reloading section names every setting a reload applies', async () => {
  const readme = await readFile('README.md', 'utf8');
  const start = readme.indexOf('\n## Reloading\n');
  assert.ok(start >= 0, 'the README has a "Reloading" section');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const missing = SETTINGS.filter((s) => LIVE_SETTINGS.has(s.path) && !section.includes(`\`${s.env}\``)).map((s) => s.env);
  assert.deepEqual(missing, []);
});

test('a reload applies live settings, keeps restart-only ones, and names both without values', () => {
  const first = load();
  const live = new LiveConfig(first);
  const heard: ConfigChange[] = [];
  live.onChange((_c, change) => heard.push(change));
  // Durations are compared under their millisecond keys (loginGraceTime → loginGraceMs, timeout → timeoutMs).
  const next = load({ TEAMSSH_LISTEN: '127.0.0.1:2022', GITHUB_TOKEN: 'ghp_new_SECRET_value', TEAMSSH_LOGIN_GRACE_TIME: '7', TEAMSSH_UPLOAD_TIMEOUT: '9', TEAMSSH_GITHUB_TEAMS: 'ops,dev' });
  const change = live.apply(next);
  assert.deepEqual(change, {
    applied: ['TEAMSSH_GITHUB_TEAMS', 'TEAMSSH_LOGIN_GRACE_TIME', 'TEAMSSH_UPLOAD_TIMEOUT'],
    deferred: ['TEAMSSH_LISTEN', 'GITHUB_TOKEN'],
  });
  assert.deepEqual(heard, [change]);
  assert.doesNotMatch(JSON.stringify(change), /SECRET/);
  const c: Config = live.current;
  assert.deepEqual(c.github.teams, ['ops', 'dev']);
  assert.equal(c.auth.loginGraceMs, 7000);
  assert.equal(c.upload.timeoutMs, 9000);
  assert.deepEqual(c.listen, first.listen, 'the listen address waits for a restart');
  assert.equal(c.github.token, 'ghp_old_SECRET_value', 'the token waits for a restart');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.github.teams), 'the new tree is frozen like the first');
});

test('a reload that changes only restart-only settings, or nothing, leaves the current tree and tells no listener', () => {
  const first = load();
  const live = new LiveConfig(first);
  let calls = 0;
  live.onChange(() => (calls += 1));
  assert.deepEqual(live.apply(load({ TEAMSSH_STATE_DIR: '/var/lib/elsewhere' })), { applied: [], deferred: ['TEAMSSH_HOST_KEY', 'TEAMSSH_SIGNING_KEY', 'TEAMSSH_STATE_DIR', 'TEAMSSH_CONTROL_SOCKET'] });
  assert.deepEqual(live.apply(load()), { applied: [], deferred: [] });
  assert.equal(live.current, first);
  assert.equal(calls, 0);
});
