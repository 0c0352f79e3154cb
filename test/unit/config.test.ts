import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/settings.js';

const base = { TEAMSSH_GITHUB_ORG: 'acme', TEAMSSH_GITHUB_TEAMS: 'ops', GITHUB_TOKEN: 't', TEAMSSH_SHELL_USER: 'teamssh' };

function problems(env: Record<string, string>, opts: { runningAsRoot?: boolean; file?: string } = {}): string[] {
  try {
    loadConfig({ env, ...opts });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

test('defaults fill everything an operator did not set, and the result is frozen', () => {
  const c = loadConfig({ env: base });
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 2222 });
  assert.equal(c.stateDir, './state');
  assert.equal(c.recordings.dir, './recordings');
  assert.equal(c.github.apiUrl, 'https://api.github.com');
  assert.equal(c.upload.visibility, 'private');
  assert.equal(c.recordings.recordInput, false);
  assert.equal(c.hostKey, path.join('state', 'ssh_host_ed25519_key'));
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.github) && Object.isFrozen(c.github.teams));
});

test('every bad setting is named at once, by its variable', () => {
  const p = problems({ TEAMSSH_LISTEN: 'nope', TEAMSSH_CACHE_TTL: '-1', TEAMSSH_RECORD_INPUT: 'maybe', ASCIINEMA_INSTALL_ID: 'ABC' });
  const text = p.join('\n');
  for (const name of ['TEAMSSH_LISTEN', 'TEAMSSH_CACHE_TTL', 'TEAMSSH_RECORD_INPUT', 'ASCIINEMA_INSTALL_ID', 'TEAMSSH_GITHUB_ORG', 'TEAMSSH_GITHUB_TEAMS', 'GITHUB_TOKEN']) {
    assert.match(text, new RegExp(name), `${name} not reported in:\n${text}`);
  }
});

test('no team configured is an error: teamssh never allows everyone', () => {
  assert.match(problems({ ...base, TEAMSSH_GITHUB_TEAMS: ' , ' }).join('\n'), /TEAMSSH_GITHUB_TEAMS.*at least one team/);
});

test('running as root with no shell user refuses to start; root sessions need an explicit opt-in', () => {
  const { TEAMSSH_SHELL_USER: _drop, ...noUser } = base;
  assert.match(problems(noUser, { runningAsRoot: true }).join('\n'), /TEAMSSH_SHELL_USER.*required when running as root/);
  assert.match(problems({ ...base, TEAMSSH_SHELL_USER: 'root' }).join('\n'), /TEAMSSH_ALLOW_ROOT_SESSIONS/);
  assert.deepEqual(problems({ ...base, TEAMSSH_SHELL_USER: 'root', TEAMSSH_ALLOW_ROOT_SESSIONS: 'true' }), []);
});

test('the public asciinema.org needs an explicit opt-in; the legacy ASCIINEMA_API_URL is read', () => {
  assert.match(problems({ ...base, ASCIINEMA_SERVER_URL: 'https://asciinema.org' }).join('\n'), /ASCIINEMA_SERVER_URL.*public/);
  assert.deepEqual(problems({ ...base, ASCIINEMA_SERVER_URL: 'https://asciinema.org', TEAMSSH_ALLOW_PUBLIC_SERVER: 'yes' }), []);
  assert.equal(loadConfig({ env: { ...base, ASCIINEMA_API_URL: 'http://rec.example:4000' } }).upload.serverUrl, 'http://rec.example:4000');
});

test('team policies come from the file or the environment, and must name configured teams', () => {
  const c = loadConfig({ env: { ...base, TEAMSSH_GITHUB_TEAMS: 'ops,dev', TEAMSSH_TEAM_POLICIES: 'ops=ops,dev=dev:handlers/dev-menu' } });
  assert.deepEqual(c.sessions.policies, [{ team: 'ops', account: 'ops' }, { team: 'dev', account: 'dev', handler: 'handlers/dev-menu' }]);
  assert.match(problems({ ...base, TEAMSSH_TEAM_POLICIES: 'ghosts=x' }).join('\n'), /team "ghosts" is not in TEAMSSH_GITHUB_TEAMS/);
});

test('the config file is read and the environment wins over it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-cfg-'));
  const file = path.join(dir, 'teamssh.yaml');
  await writeFile(file, 'listen: 127.0.0.1:2200\ngithub:\n  org: fromfile\n  teams: [a, b]\n  cacheTtl: 60\nsessions:\n  shellUser: teamssh\n');
  const c = loadConfig({ env: { GITHUB_TOKEN: 't', TEAMSSH_GITHUB_ORG: 'fromenv' }, file });
  assert.equal(c.github.org, 'fromenv');
  assert.deepEqual(c.github.teams, ['a', 'b']);
  assert.equal(c.github.cacheTtl, 60);
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 2200 });
  await writeFile(file, 'github: [unclosed');
  assert.match(problems({}, { file }).join('\n'), /not valid YAML/);
});

test('the example config file is valid and documents every setting', async () => {
  const file = path.resolve('config/teamssh.example.yaml');
  const c = loadConfig({ env: { GITHUB_TOKEN: 't' }, file });
  assert.equal(c.github.org, 'acme');
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8');
  for (const s of SETTINGS) if (s.env !== 'GITHUB_TOKEN') assert.match(text, new RegExp(s.env), `${s.env} missing from the example`);
});

test('revocation settings: no HTTP listener and no webhooks unless asked; revalidation every 60 s by default', () => {
  const c = loadConfig({ env: base });
  assert.equal(c.http.listen, undefined);
  assert.equal(c.github.webhookSecret, undefined);
  assert.equal(c.github.revalidateInterval, 60);
  const on = loadConfig({ env: { ...base, TEAMSSH_HTTP_LISTEN: '127.0.0.1:8080', TEAMSSH_GITHUB_WEBHOOK_SECRET: 's3cret', TEAMSSH_REVALIDATE_INTERVAL: '0' } });
  assert.deepEqual(on.http.listen, { host: '127.0.0.1', port: 8080 });
  assert.equal(on.github.webhookSecret, 's3cret');
  assert.equal(on.github.revalidateInterval, 0);
  const text = problems({ ...base, TEAMSSH_HTTP_LISTEN: '8080', TEAMSSH_REVALIDATE_INTERVAL: 'often' }).join('\n');
  assert.match(text, /TEAMSSH_HTTP_LISTEN \(http\.listen\): must be host:port/);
  assert.match(text, /TEAMSSH_REVALIDATE_INTERVAL/);
  assert.match(problems({ ...base, TEAMSSH_GITHUB_WEBHOOK_SECRET: 's3cret' }).join('\n'), /TEAMSSH_GITHUB_WEBHOOK_SECRET .*TEAMSSH_HTTP_LISTEN/);
});
