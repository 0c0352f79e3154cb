import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startHarness, makeKey, type Harness, type ClientKey } from '../support/teamssh.js';

// Hooks see login and key; the example allows 127.* and exports TEAM_ROLE. The test hook
// below denies "denied", times out for "slow" and crashes for "broken".
const HOOK = `#!/bin/bash
case "$1" in
  denied) echo "not today" >&2; exit 1 ;;
  slow) sleep 10 ;;
  broken) exit 3 ;;
esac
[ "$3" = "$TEAMSSH_KEY_FINGERPRINT" ] || exit 4
echo "HOOK_SAW_KEY=\${2%% *}"
echo "LD_PRELOAD=/tmp/evil.so"
echo "a note that is not a variable"
exit 0
`;

let h: Harness;
const keys: Record<string, ClientKey> = {};

before(async () => {
  h = await startHarness({
    env: { TEAMSSH_AUTH_HOOK_TIMEOUT: '1' },
    async setup(gh, dir) {
      const example = path.join(dir, 'auth-hook-example');
      await copyFile(path.resolve('handlers/auth-hook-example'), example);
      const mine = path.join(dir, 'hook');
      await writeFile(mine, HOOK);
      await chmod(mine, 0o755);
      for (const name of ['denied', 'slow', 'broken']) {
        keys[name] = await makeKey(dir, name);
        gh.addUser(name, { keys: [keys[name]!.publicLine] }).addMember('ops', name);
      }
      return { TEAMSSH_AUTH_HOOKS: `${example},${mine}` };
    },
  });
});
after(() => h?.close());

test('hooks that exit 0 allow, and their KEY=value lines join the session environment (filtered)', async () => {
  const r = await h.ssh('alice', h.alice, ['echo "role=$TEAM_ROLE key=$HOOK_SAW_KEY preload=${LD_PRELOAD:-none}"']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'role=ops key=ssh-ed25519 preload=none');
  // Refused names are logged (names only: the value may be a secret), naming the hook.
  const refused = await h.log.waitFor('env_refused', (l) => l.source === 'hook');
  assert.deepEqual(refused.names, ['LD_PRELOAD']);
  assert.match(String(refused.hook), /\/hook$/);
  assert.ok(!h.log.lines.some((l) => JSON.stringify(l).includes('/tmp/evil.so')), 'the refused value is never logged');
});

test('a hook that exits 1 denies, and the log says which hook and why', async () => {
  const r = await h.ssh('denied', keys.denied!, ['true']);
  assert.equal(r.code, 255);
  assert.doesNotMatch(r.stderr, /not today/);
  const l = await h.log.waitFor('auth_refused', (x) => x.reason === 'hook_denied');
  assert.equal(l.detail, 'not today');
  assert.match(String(l.hook), /hook$/);
});

test('a hook that times out or fails is unavailable, and refuses', async () => {
  const slow = await h.ssh('slow', keys.slow!, ['true']);
  assert.equal(slow.code, 255);
  const l = await h.log.waitFor('auth_refused', (x) => x.reason === 'hook_unavailable' && x.user === 'slow');
  assert.match(String(l.detail), /timed out/);
  const broken = await h.ssh('broken', keys.broken!, ['true']);
  assert.equal(broken.code, 255);
  await h.log.waitFor('auth_refused', (x) => x.reason === 'hook_unavailable' && x.user === 'broken');
});
