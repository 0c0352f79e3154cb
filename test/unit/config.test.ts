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
  assert.deepEqual(c.hostKey, ['ed25519', 'ecdsa', 'rsa'].map((t) => path.join('state', `ssh_host_${t}_key`)));
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
  assert.equal(c.github.cacheTtlMs, 60_000, 'seconds in the file, milliseconds in the code');
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

test('cross-field rules are reported together with single bad settings, in one message', () => {
  // TEAMSSH_LISTEN is bad on its own; the root account and the public server break cross-field rules.
  const p = problems({ ...base, TEAMSSH_LISTEN: 'nope', TEAMSSH_SHELL_USER: 'root', ASCIINEMA_SERVER_URL: 'https://asciinema.org' }).join('\n');
  assert.match(p, /TEAMSSH_LISTEN/);
  assert.match(p, /TEAMSSH_ALLOW_ROOT_SESSIONS/);
  assert.match(p, /ASCIINEMA_SERVER_URL \(upload\.serverUrl\): asciinema server asciinema\.org is public/);
});

test('uploads: the public asciinema.org needs the opt-in; credentials in the URL, a ":" in the username and an uppercase install id are refused', () => {
  assert.match(problems({ ...base, ASCIINEMA_SERVER_URL: 'https://eu.asciinema.org/' }).join('\n'), /is public/);
  assert.deepEqual(problems({ ...base, ASCIINEMA_SERVER_URL: 'https://asciinema.org', TEAMSSH_ALLOW_PUBLIC_SERVER: 'true' }), []);
  assert.deepEqual(problems({ ...base, ASCIINEMA_SERVER_URL: 'https://asciinema.example.com' }), []);
  assert.match(problems({ ...base, ASCIINEMA_SERVER_URL: 'https://u:p@asciinema.example.com' }).join('\n'), /must not carry credentials/);
  assert.match(problems({ ...base, ASCIINEMA_USERNAME: 'a:b' }).join('\n'), /ASCIINEMA_USERNAME.*must not contain ":"/);
  assert.match(problems({ ...base, ASCIINEMA_INSTALL_ID: 'F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6' }).join('\n'), /ASCIINEMA_INSTALL_ID.*lowercase UUID/);
});

test('durations are handed to the code in milliseconds', () => {
  const c = loadConfig({ env: { ...base, TEAMSSH_IDLE_TIMEOUT: '7', TEAMSSH_KILL_GRACE: '0', TEAMSSH_UPLOAD_TIMEOUT: '3', TEAMSSH_LOGIN_GRACE_TIME: '2' } });
  assert.equal(c.sessions.idleTimeoutMs, 7000);
  assert.equal(c.sessions.killGraceMs, 0);
  assert.equal(c.upload.timeoutMs, 3000);
  assert.equal(c.auth.loginGraceMs, 2000);
  assert.equal(c.github.cacheMaxStaleMs, 3_600_000);
});

test('a misspelt key in the config file is an error naming it, not silently ignored', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-cfg-'));
  const file = path.join(dir, 'teamssh.yaml');
  await writeFile(file, 'github:\n  org: acme\n  teams: [ops]\nsessions:\n  shellUser: teamssh\n  idletimeout: 5\nrecording:\n  dir: /tmp/x\n');
  const p = problems({ GITHUB_TOKEN: 't' }, { file }).join('\n');
  assert.match(p, /sessions.*idletimeout/);
  assert.match(p, /recording\b/);
});

test('revocation settings: no HTTP listener and no webhooks unless asked; revalidation every 60 s by default', () => {
  const c = loadConfig({ env: base });
  assert.equal(c.http.listen, undefined);
  assert.equal(c.github.webhookSecret, undefined);
  assert.equal(c.github.revalidateIntervalMs, 60_000);
  const on = loadConfig({ env: { ...base, TEAMSSH_HTTP_LISTEN: '127.0.0.1:8080', TEAMSSH_GITHUB_WEBHOOK_SECRET: 's3cret', TEAMSSH_REVALIDATE_INTERVAL: '0' } });
  assert.deepEqual(on.http.listen, { host: '127.0.0.1', port: 8080 });
  assert.equal(on.github.webhookSecret, 's3cret');
  assert.equal(on.github.revalidateIntervalMs, 0);
  const text = problems({ ...base, TEAMSSH_HTTP_LISTEN: '8080', TEAMSSH_REVALIDATE_INTERVAL: 'often' }).join('\n');
  assert.match(text, /TEAMSSH_HTTP_LISTEN \(http\.listen\): must be host:port/);
  assert.match(text, /TEAMSSH_REVALIDATE_INTERVAL/);
  assert.match(problems({ ...base, TEAMSSH_GITHUB_WEBHOOK_SECRET: 's3cret' }).join('\n'), /TEAMSSH_GITHUB_WEBHOOK_SECRET .*TEAMSSH_HTTP_LISTEN/);
});

test('TEAMSSH_UPLOAD_HTTP_LISTEN: no listener unless set; a bad address or the server\'s own is named in the one error', () => {
  assert.equal(loadConfig({ env: base }).upload.httpListen, undefined);
  assert.deepEqual(loadConfig({ env: { ...base, TEAMSSH_UPLOAD_HTTP_LISTEN: '127.0.0.1:9101', TEAMSSH_HTTP_LISTEN: '127.0.0.1:9100' } }).upload.httpListen, { host: '127.0.0.1', port: 9101 });
  const text = problems({ ...base, TEAMSSH_UPLOAD_HTTP_LISTEN: '9101', TEAMSSH_LISTEN: 'nope' }).join('\n');
  assert.match(text, /TEAMSSH_UPLOAD_HTTP_LISTEN \(upload\.httpListen\): must be host:port, got "9101"/);
  assert.match(text, /TEAMSSH_LISTEN \(listen\)/, 'named together with the other bad settings');
  for (const [server, uploader] of [['127.0.0.1:9100', '127.0.0.1:9100'], ['0.0.0.0:9100', '127.0.0.1:9100'], ['[::]:9100', '127.0.0.1:9100'], ['127.0.0.1:9100', ':9100']]) {
    assert.match(problems({ ...base, TEAMSSH_HTTP_LISTEN: server!, TEAMSSH_UPLOAD_HTTP_LISTEN: uploader! }).join('\n'), /TEAMSSH_UPLOAD_HTTP_LISTEN \(upload\.httpListen\): must not be the address of TEAMSSH_HTTP_LISTEN/, `${server} and ${uploader}`);
  }
  // Port 0 (the kernel picks one each) and other hosts' same port do not collide.
  assert.deepEqual(problems({ ...base, TEAMSSH_HTTP_LISTEN: '127.0.0.1:0', TEAMSSH_UPLOAD_HTTP_LISTEN: '127.0.0.1:0' }), []);
  assert.deepEqual(problems({ ...base, TEAMSSH_HTTP_LISTEN: '127.0.0.1:9100', TEAMSSH_UPLOAD_HTTP_LISTEN: '127.0.0.2:9100' }), []);
  assert.deepEqual(problems({ ...base, TEAMSSH_HTTP_LISTEN: '0.0.0.0:9100', TEAMSSH_UPLOAD_HTTP_LISTEN: '[::1]:9100' }), []);
});

test('TEAMSSH_PRIORITY_BOOST: 0 to 19 nice levels, 10 by default', () => {
  assert.equal(loadConfig({ env: base }).priorityBoost, 10);
  assert.equal(loadConfig({ env: { ...base, TEAMSSH_PRIORITY_BOOST: '0' } }).priorityBoost, 0);
  assert.match(problems({ ...base, TEAMSSH_PRIORITY_BOOST: '20' }).join('\n'), /TEAMSSH_PRIORITY_BOOST \(priorityBoost\): must be 0 to 19 nice levels/);
  assert.match(problems({ ...base, TEAMSSH_PRIORITY_BOOST: '-5' }).join('\n'), /TEAMSSH_PRIORITY_BOOST.*whole number/);
});
