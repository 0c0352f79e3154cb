import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startHarness, type Harness, type ClientKey } from '../support/teamssh.js';
import { clientMatrix } from '../support/ssh-clients.js';
import { loadHostKeys } from '../../src/server/host-key.js';
import { lookupAccount } from '../../src/launch/account.js';

const run = promisify(execFile);

// Every SSH client people use, against teamssh with its default (hardened) algorithms and every
// user key type: none of them written here.
const KEY_TYPES = [
  { name: 'ed25519', args: ['-t', 'ed25519'] },
  { name: 'ecdsa-p256', args: ['-t', 'ecdsa', '-b', '256'] },
  { name: 'ecdsa-p384', args: ['-t', 'ecdsa', '-b', '384'] },
  { name: 'ecdsa-p521', args: ['-t', 'ecdsa', '-b', '521'] },
  { name: 'rsa', args: ['-t', 'rsa', '-b', '3072'] },
] as const;

let h: Harness;
let hostKey: string;
const keys: Record<string, ClientKey> = {};

async function keygen(dir: string, name: string, args: readonly string[]): Promise<ClientKey> {
  const file = path.join(dir, name);
  await run('ssh-keygen', ['-q', ...args, '-N', '', '-C', name, '-f', file]);
  const pub = (await readFile(`${file}.pub`, 'utf8')).trim().split(' ');
  return { path: file, publicLine: `${pub[0]} ${pub[1]}` };
}

before(async () => {
  h = await startHarness({
    async setup(gh, dir) {
      for (const t of KEY_TYPES) {
        keys[t.name] = await keygen(dir, t.name, t.args);
        gh.addUser(`m-${t.name}`, { keys: [keys[t.name]!.publicLine] }).addMember('ops', `m-${t.name}`);
      }
      keys.outsider = await keygen(dir, 'outsider', ['-t', 'ed25519']);
      gh.addUser('outsider', { keys: [keys.outsider.publicLine] });
    },
  });
  hostKey = (await loadHostKeys(h.config.hostKey)).find((k) => k.type === 'ssh-ed25519')!.fingerprint;
});
after(() => h.close());

for (const client of clientMatrix()) {
  describe(client.name, { skip: client.missing() }, () => {
    for (const t of KEY_TYPES) {
      test(`${t.name} key: exec with stdin and exit status`, async () => {
        const key = await client.prepareKey(keys[t.name]!);
        const r = await client.ssh({ port: h.port, user: `m-${t.name}`, key, hostKey, command: 'cat; exit 3', input: `stdin via ${t.name}\n` });
        assert.equal(r.code, 3, `${r.stderr}${JSON.stringify(h.log.events('auth_refused').filter((l) => l.user === `m-${t.name}`))}`);
        assert.equal(r.stdout, `stdin via ${t.name}\n`);
      });
    }

    test('a pty session', async () => {
      const key = await client.prepareKey(keys.ed25519!);
      const r = await client.ssh({ port: h.port, user: 'm-ed25519', key, hostKey, command: 'tty; exit 0', tty: true });
      assert.equal(r.code, 0, r.stderr);
      // Not anchored: script(1), which gives dbclient its terminal, mixes stderr (and an echoed EOF) into stdout.
      assert.match(r.stdout, /\/dev\/pts\/\d+\r?\n/);
    });

    test('scp', { skip: client.scp ? undefined : 'this client has no scp' }, async () => {
      const key = await client.prepareKey(keys.rsa!);
      const local = path.join(h.dir, `scp-${client.name.replace(/\W+/g, '-')}.txt`);
      await writeFile(local, `copied by ${client.name}\n`);
      const remote = path.basename(local);
      const r = await client.scp!({ port: h.port, user: 'm-rsa', key, hostKey }, local, remote);
      assert.equal(r.code, 0, r.stderr);
      const home = (await lookupAccount(h.config.sessions.shellUser!)).home;
      assert.equal(await readFile(path.join(home, remote), 'utf8'), `copied by ${client.name}\n`);
    });

    test('a non-member stays refused', async () => {
      const key = await client.prepareKey(keys.outsider!);
      const r = await client.ssh({ port: h.port, user: 'outsider', key, hostKey, command: 'echo in' });
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.stdout, /in/);
      await h.log.waitFor('auth_refused', (l) => l.reason === 'not_member' && l.user === 'outsider');
    });
  });
}

describe('OpenSSH 10 (Debian 13) key exchange', { skip: clientMatrix()[1]!.missing() }, () => {
  test('negotiates mlkem768x25519-sha256 and prints no post-quantum warning', async () => {
    const client = clientMatrix()[1]!;
    const r = await client.ssh({ port: h.port, user: 'm-ed25519', key: keys.ed25519!.path, hostKey, command: 'echo pq', extra: ['-o', 'LogLevel=DEBUG1'] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'pq\n');
    assert.match(r.stderr, /kex: algorithm: mlkem768x25519-sha256\r?\n/);
    assert.doesNotMatch(r.stderr, /post-quantum/i);
  });
});
