import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { generateAppKey } from '../fakes/github-app.js';

const base = { TEAMSSH_GITHUB_ORG: 'acme', TEAMSSH_GITHUB_TEAMS: 'ops', TEAMSSH_SHELL_USER: 'teamssh' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-appcfg-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('an App needs no token: id and key file load, the key is read once as PKCS#8, the installation id is optional', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'app.pem');
    await writeFile(file, generateAppKey().privateKeyPem, { mode: 0o600 });
    const c = loadConfig({ env: { ...base, TEAMSSH_GITHUB_APP_ID: '4242', TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: file } });
    assert.equal(c.github.token, undefined);
    assert.equal(c.github.app?.id, 4242);
    assert.equal(c.github.app?.installationId, undefined);
    assert.equal(c.github.app?.privateKeyFile, file);
    assert.match(c.github.app?.privateKey ?? '', /^-----BEGIN PRIVATE KEY-----\n/);
    const withId = loadConfig({ env: { ...base, TEAMSSH_GITHUB_APP_ID: '4242', TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: file, TEAMSSH_GITHUB_APP_INSTALLATION_ID: '777' } });
    assert.equal(withId.github.app?.installationId, 777);
    // The same from the config file.
    const yaml = path.join(dir, 'teamssh.yaml');
    await writeFile(yaml, `github:\n  org: acme\n  teams: [ops]\n  app:\n    id: 4242\n    privateKeyFile: ${file}\nsessions:\n  shellUser: teamssh\n`);
    assert.equal(loadConfig({ env: {}, file: yaml }).github.app?.id, 4242);
  });
});

test('both a token and an App is one config error naming both; neither names both too', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'app.pem');
    await writeFile(file, generateAppKey().privateKeyPem);
    const both = problems({ ...base, GITHUB_TOKEN: 'ghp_x', TEAMSSH_GITHUB_APP_ID: '4242', TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: file });
    assert.equal(both.length, 1, both.join('\n'));
    assert.match(both[0]!, /GITHUB_TOKEN.*TEAMSSH_GITHUB_APP_ID.*both set.*exactly one/);
    const neither = problems(base);
    assert.equal(neither.length, 1, neither.join('\n'));
    assert.match(neither[0]!, /GITHUB_TOKEN.*or TEAMSSH_GITHUB_APP_ID.*TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE.*required/);
  });
});

test('half an App is named by its missing setting', () => {
  assert.match(problems({ ...base, TEAMSSH_GITHUB_APP_ID: '4242' }).join('\n'), /TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE \(github\.app\.privateKeyFile\): required/);
  assert.match(problems({ ...base, TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: '/x.pem' }).join('\n'), /TEAMSSH_GITHUB_APP_ID \(github\.app\.id\): required/);
  assert.match(problems({ ...base, TEAMSSH_GITHUB_APP_ID: 'abc', TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: '/x.pem' }).join('\n'), /TEAMSSH_GITHUB_APP_ID \(github\.app\.id\): must be a whole number/);
});

test('an unusable key file is a config error naming the setting and the file, never quoting the file', async () => {
  await withDir(async (dir) => {
    const env = (file: string) => ({ ...base, TEAMSSH_GITHUB_APP_ID: '4242', TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE: file });
    const missing = problems(env(path.join(dir, 'nope.pem'))).join('\n');
    assert.match(missing, /TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE \(github\.app\.privateKeyFile\): cannot read .*nope\.pem: ENOENT/);

    const garbage = path.join(dir, 'garbage.pem');
    await writeFile(garbage, '-----BEGIN RSA PRIVATE KEY-----\nS3CRETS3CRETS3CRET\n-----END RSA PRIVATE KEY-----\n');
    const bad = problems(env(garbage)).join('\n');
    assert.match(bad, /TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE .*garbage\.pem is not a PEM private key/);
    assert.doesNotMatch(bad, /S3CRET/);

    const ec = path.join(dir, 'ec.pem');
    await writeFile(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    assert.match(problems(env(ec)).join('\n'), /ec\.pem holds a ec key; a GitHub App key is RSA/);

    // A public key is not a private key.
    const pub = path.join(dir, 'pub.pem');
    await writeFile(pub, generateAppKey().publicKey.export({ type: 'spki', format: 'pem' }) as string);
    assert.match(problems(env(pub)).join('\n'), /pub\.pem is not a PEM private key/);
  });
});
