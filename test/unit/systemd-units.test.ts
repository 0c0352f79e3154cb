import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const UNITS = ['config/teamssh.service', 'config/teamssh-upload.service'];

const analyzer = await run('systemd-analyze', ['--version']).then(
  () => undefined,
  () => 'systemd-analyze is not installed (Debian package systemd; scripts/setup.sh installs it)',
);

/** Runs `systemd-analyze verify` on copies of the units whose node path is this machine's node; returns what it printed. */
async function verify(texts: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-units-'));
  try {
    const files: string[] = [];
    for (const [name, text] of Object.entries(texts)) {
      const f = path.join(dir, name);
      // verify checks that ExecStart's program exists: use the node running this test.
      await writeFile(f, text.replaceAll('/usr/bin/node ', `${process.execPath} `));
      files.push(f);
    }
    const r = await run('systemd-analyze', ['verify', ...files]).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: `${err.stderr ?? ''}failed` }));
    return `${r.stdout}${r.stderr}`.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const units = async (): Promise<Record<string, string>> => Object.fromEntries(await Promise.all(UNITS.map(async (u) => [path.basename(u), await readFile(u, 'utf8')])));

test('the systemd units pass systemd-analyze verify without a warning', { skip: analyzer }, async () => {
  assert.equal(await verify(await units()), '');
});

test('the verify check itself catches a bad directive', { skip: analyzer }, async () => {
  const u = await units();
  const broken = { 'teamssh.service': u['teamssh.service']!.replace('Restart=on-failure', 'Restart=sometimes') };
  assert.match(await verify(broken), /Restart|sometimes/);
});

test('teamssh.service keeps off what would break sessions as other accounts, and has what the issue asks', async () => {
  const text = (await units())['teamssh.service']!;
  const directives = text.split('\n').filter((l) => /^[A-Z]\w+=/.test(l));
  for (const off of ['User', 'DynamicUser', 'PrivateUsers', 'NoNewPrivileges', 'CapabilityBoundingSet', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ProtectControlGroups', 'SystemCallFilter', 'RestrictAddressFamilies', 'RestrictNamespaces', 'MemoryDenyWriteExecute']) {
    assert.ok(!directives.some((l) => l.startsWith(`${off}=`)), `${off}= must stay off in teamssh.service`);
    assert.match(text, new RegExp(`^#.*\\b${off}=`, 'm'), `the unit says why ${off}= stays off`);
  }
  for (const want of ['Restart=on-failure', 'ExecReload=/bin/kill -HUP $MAINPID', 'KillMode=mixed', 'Delegate=yes']) assert.ok(directives.includes(want), want);
  for (const u of Object.values(await units())) assert.match(u, /^EnvironmentFile=/m);
});
