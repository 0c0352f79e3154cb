import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Revalidator } from '../../src/revocation/revalidator.js';
import type { Revoker } from '../../src/revocation/revoker.js';
import { captureLog } from '../support/log-capture.js';

// A round's checks keep their places in the interval even when the event loop is busy: each
// check is due at the round's start plus its share of the interval. Sleeping the gap after
// each check instead let every timer's lateness add up, so the last logins of a round slid
// past its end, next to the next round's first: more than one check per login in an interval.

test('a round spreads its checks over the interval by the clock, however late each timer fires', async () => {
  const logins = Array.from({ length: 40 }, (_, i) => `user${i}`);
  const at: number[] = [];
  // Each check keeps the event loop busy for 8 ms (a loaded server), under the 20 ms gap.
  const revoker = {
    prune: () => undefined,
    check: () => {
      at.push(Date.now());
      const until = Date.now() + 8;
      while (Date.now() < until);
      return Promise.resolve();
    },
  } as unknown as Revoker;
  const sessions = { logins: () => logins, byLogin: () => [] };
  const r = new Revalidator({ intervalMs: 800, sessions, revoker, logger: captureLog().logger });
  // The revalidator's timers are unref'd (it must never keep a server alive): hold the test's loop open.
  const hold = setInterval(() => undefined, 1_000);
  const started = Date.now();
  await r.runRound(800).finally(() => clearInterval(hold));
  assert.equal(at.length, logins.length, 'one check per login');
  const last = at.at(-1)! - started;
  // Due at 39 × 20 = 780 ms; summing the sleeps put it at ~39 × 29 ≈ 1,130 ms. The bound leaves
  // one late timer on a busy CI machine its room.
  assert.ok(last < 900, `the last check started ${last} ms into an 800 ms round`);
  assert.ok(last >= 760, `the last check started ${last} ms into the round: still spread to its end`);
  const firstHalf = at.filter((t) => t - started < 400).length;
  assert.ok(firstHalf >= 18 && firstHalf <= 22, `${firstHalf} of 40 checks in the first half of the round: evenly spread`);
});
