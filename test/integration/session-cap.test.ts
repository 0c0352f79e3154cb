import { test } from 'node:test';
import assert from 'node:assert/strict';
import type ssh2 from 'ssh2';
import { startHarness, type Harness } from '../support/teamssh.js';
import { connect, exec, type Opened } from '../support/ssh2-client.js';
import { ensureTestAccount } from '../support/accounts.js';

// Each program says it started, then lives long enough that all twelve requests overlap it.
const PROGRAM = 'echo STARTED; sleep 1.5';
const CAP = 3;

async function outcome(h: Harness, opened: Opened[]) {
  const results = await Promise.all(opened.map(async (o) => ({ ...(await o.exit), out: o.out(), err: o.err() })));
  const ran = results.filter((r) => r.out.includes('STARTED'));
  const refused = results.filter((r) => r.code === 1 && /too many sessions \(limit 3\)/.test(r.err));
  // Every session that was admitted has ended (and been audited) once its client saw the exit.
  await h.log.waitFor('session_end', () => h.log.events('session_end').length >= ran.length);
  return { ran: ran.length, refused: refused.length, starts: h.log.events('session_start').length };
}

/** Opens `n` exec channels on `c` without waiting for any of them in between. */
const burst = (c: ssh2.Client, n: number) => Array.from({ length: n }, () => exec(c, PROGRAM));

test('the per-login cap holds for 12 session channels opened at once on one connection', async () => {
  const h = await startHarness({ env: { TEAMSSH_MAX_SESSIONS_PER_LOGIN: String(CAP) } });
  try {
    const c = await connect(h.port, 'alice', h.alice);
    const r = await outcome(h, await Promise.all(burst(c, 12)));
    assert.deepEqual(r, { ran: CAP, refused: 12 - CAP, starts: CAP }, 'at most 3 programs may ever run');
    assert.equal(h.log.events('session_refused').filter((l) => l.reason === 'session_limit').length, 12 - CAP);
    assert.equal(h.server.sessions.count('alice'), 0, 'every slot is freed');
    c.end();
  } finally {
    await h.close();
  }
});

test('the per-login cap holds for 12 session channels opened at once across 4 connections', async () => {
  // An account no other test uses: its first lookup is not cached, which widened the old race window.
  await ensureTestAccount('tsshcap');
  const h = await startHarness({ env: { TEAMSSH_MAX_SESSIONS_PER_LOGIN: String(CAP), TEAMSSH_SHELL_USER: 'tsshcap' } });
  try {
    const clients = await Promise.all(Array.from({ length: 4 }, () => connect(h.port, 'alice', h.alice)));
    const r = await outcome(h, await Promise.all(clients.flatMap((c) => burst(c, 3))));
    assert.deepEqual(r, { ran: CAP, refused: 12 - CAP, starts: CAP }, 'at most 3 programs may ever run');
    for (const c of clients) c.end();
  } finally {
    await h.close();
  }
});
