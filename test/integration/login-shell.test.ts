import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from '../support/teamssh.js';

test('an interactive session is a login shell started the way OpenSSH starts one (argv[0] "-bash")', async () => {
  const h = await startHarness();
  try {
    // -tt without a command: the server's shell path, fed from stdin.
    const r = await h.ssh('alice', h.alice, [], { sshOptions: ['-tt'], input: 'shopt -q login_shell && echo "LOGIN=$((40+2)) ARGV0=$0"; exit\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /LOGIN=42 ARGV0=-bash/);
  } finally {
    await h.close();
  }
});
