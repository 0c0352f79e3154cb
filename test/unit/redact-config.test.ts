import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const base = { TEAMSSH_GITHUB_ORG: 'acme', TEAMSSH_GITHUB_TEAMS: 'ops', GITHUB_TOKEN: 't', TEAMSSH_SHELL_USER: 'teamssh' };

test('redaction is on by default, TEAMSSH_REDACT=false turns it off, and patterns are read once at load', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-redact-cfg-'));
  try {
    assert.equal(loadConfig({ env: base }).recordings.redact, true);
    assert.equal(loadConfig({ env: { ...base, TEAMSSH_REDACT: 'false' } }).recordings.redact, false);
    const file = path.join(dir, 'patterns');
    await writeFile(file, 'npm = npm_[A-Za-z0-9]{36}\n');
    assert.deepEqual(loadConfig({ env: { ...base, TEAMSSH_REDACT_PATTERNS: file } }).recordings.redactPatterns, [{ name: 'npm', source: 'npm_[A-Za-z0-9]{36}' }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an invalid pattern or an unreadable patterns file is a config error naming the variable, the line and the pattern', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-redact-cfg-'));
  try {
    const file = path.join(dir, 'patterns');
    await writeFile(file, 'good = a+\nbad = [unclosed\n');
    const err = (() => {
      try {
        loadConfig({ env: { ...base, TEAMSSH_REDACT_PATTERNS: file, TEAMSSH_CACHE_TTL: 'soon' } });
      } catch (e) {
        return e as ConfigError;
      }
      assert.fail('a bad pattern must stop the start');
    })();
    assert.equal(err.code, 'ERR_CONFIG');
    assert.ok(err.problems.some((p) => p.startsWith(`TEAMSSH_REDACT_PATTERNS (recordings.redactPatterns): ${file} line 2: pattern "bad" is not a valid regular expression`)), err.message);
    assert.ok(err.problems.some((p) => p.startsWith('TEAMSSH_CACHE_TTL')), 'named together with the other bad settings');
    assert.throws(() => loadConfig({ env: { ...base, TEAMSSH_REDACT_PATTERNS: path.join(dir, 'missing') } }), /TEAMSSH_REDACT_PATTERNS \(recordings\.redactPatterns\): cannot read .*missing: ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
