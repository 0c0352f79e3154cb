import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, stat, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import ssh2 from 'ssh2';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { jumpKeyPath, loadJumpKey } from '../../src/jump/jump-key.js';
import { splitRoute } from '../../src/jump/route.js';
import { JumpService } from '../../src/jump/jump-service.js';
import { knownHostsLine, loadTargetHostKey } from '../../src/jump/target-host-keys.js';

const base = { TEAMSSH_GITHUB_ORG: 'acme', TEAMSSH_GITHUB_TEAMS: 'ops,dev', GITHUB_TOKEN: 't', TEAMSSH_SHELL_USER: 'teamssh' };
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const db1 = { name: 'db1', host: '10.0.0.5', user: 'deploy', teams: ['ops'], hostKeys: [HOST_KEY] };

async function withFile(doc: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-jump-cfg-'));
  const file = path.join(dir, 'teamssh.yaml');
  await writeFile(file, stringify(doc));
  return file;
}

function problems(env: Record<string, string>, file?: string): string[] {
  try {
    loadConfig({ env, file });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

test('targets from the config file get their defaults; jump settings default too', async () => {
  const c = loadConfig({ env: base, file: await withFile({ targets: [db1] }) });
  assert.deepEqual(c.targets, [{ ...db1, port: 22 }]);
  assert.equal(c.jump.connectTimeoutMs, 10_000);
  assert.equal(jumpKeyPath(c), path.join('state', 'jump_ed25519_key'));
  assert.equal(loadConfig({ env: { ...base, TEAMSSH_JUMP_KEY: '/k' } }).jump.key, '/k');
});

test('targets in the environment are a config error: they are set in the file only', () => {
  assert.match(problems({ ...base, TEAMSSH_TARGETS: 'db1=10.0.0.5' }).join('\n'), /TEAMSSH_TARGETS \(targets\): targets can only be set in the config file/);
});

test('every bad target setting is named at once: name, unique, hostKeys pinned, teams configured', async () => {
  const file = await withFile({
    targets: [
      { ...db1, name: 'DB_1' },
      { ...db1, hostKeys: [] },
      db1,
      { ...db1, name: 'web', teams: ['nobody'], hostKeys: ['not a key'] },
      { name: 'x', host: 'h', user: 'u', teams: ['ops'] },
    ],
  });
  const text = problems(base, file).join('\n');
  assert.match(text, /targets\.0\.name: must match/);
  assert.match(text, /targets\.1\.hostKeys: pin at least one host key/);
  assert.match(text, /"db1" is used by two targets/);
  assert.match(text, /targets\.3\.hostKeys\.0: must be an OpenSSH public key line/);
  assert.match(text, /team "nobody" of target web is not in TEAMSSH_GITHUB_TEAMS/);
  assert.match(text, /targets\.4\.hostKeys: required/);
});

test('the jump key is generated once as ed25519, mode 0600, and then kept', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-jump-key-'));
  const file = path.join(dir, 'state', 'jump_ed25519_key');
  const k = await loadJumpKey(file);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.match(k.publicLine, /^ssh-ed25519 AAAA\S+ teamssh-jump$/);
  const parsed = ssh2.utils.parseKey(await readFile(file));
  assert.ok(!(parsed instanceof Error) && !Array.isArray(parsed) && parsed.isPrivateKey());
  assert.equal((await loadJumpKey(file)).publicLine, k.publicLine);
});

test('username routing splits on the last @', () => {
  assert.deepEqual(splitRoute('alice@db1'), { login: 'alice', target: 'db1' });
  assert.deepEqual(splitRoute('alice'), { login: 'alice', target: undefined });
  assert.deepEqual(splitRoute('a@b@db1'), { login: 'a@b', target: 'db1' });
  assert.deepEqual(splitRoute('@db1'), { login: '@db1', target: undefined });
  assert.deepEqual(splitRoute('alice@'), { login: 'alice@', target: undefined });
});

test('a target is reachable only through one of its teams; ProxyJump destinations by name or exact host and port', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-jump-svc-'));
  const key = await loadJumpKey(path.join(dir, 'k'));
  const svc = new JumpService([{ ...db1, port: 2200 }], key, { connectTimeoutMs: 1000, clientEnvAllow: [] });
  assert.equal(svc.reachable('db1', ['ops'])?.team, 'ops');
  assert.equal(svc.reachable('DB1', ['OPS'])?.team, 'ops');
  assert.equal(svc.reachable('db1', ['dev']), undefined);
  assert.equal(svc.reachable('db9', ['ops']), undefined);
  assert.ok(svc.reachableDestination('db1', 22, ['ops']));
  assert.ok(svc.reachableDestination('db1', 2200, ['ops']));
  assert.ok(svc.reachableDestination('10.0.0.5', 2200, ['ops']));
  assert.equal(svc.reachableDestination('10.0.0.5', 22, ['ops']), undefined);
  assert.equal(svc.reachableDestination('10.0.0.6', 2200, ['ops']), undefined);
  assert.equal(svc.reachableDestination('db1', 22, ['dev']), undefined);
});

test('known_hosts lines name the target as the client looks it up', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-jump-kh-'));
  const k = await loadTargetHostKey(dir, db1);
  assert.equal((await stat(path.join(dir, 'jump-targets', 'db1_ed25519_key'))).mode & 0o777, 0o600);
  assert.match(knownHostsLine({ ...db1, port: 22 }, k), /^db1,10\.0\.0\.5 ssh-ed25519 AAAA\S+$/);
  assert.match(knownHostsLine({ ...db1, port: 2200 }, k), /^db1,\[db1\]:2200,\[10\.0\.0\.5\]:2200 ssh-ed25519 /);
});
