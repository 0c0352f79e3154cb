import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Octokit } from '@octokit/rest';
import { createLogger } from '../../src/log.js';
import { requestSlots } from '../../src/github/request-slots.js';
import { GitHubDirectory } from '../../src/github/directory.js';
import { FakeGitHub } from '../fakes/github.js';

const logger = createLogger({ level: 'silent' });
const SlotOctokit = Octokit.plugin(requestSlots);

/** A GitHub stand-in that holds every request until `release()`, counting how many it holds at once. */
async function holdingServer(): Promise<{ url: string; held: () => number; most: () => number; paths: string[]; release: () => void; close: () => Promise<void> }> {
  const waiting: http.ServerResponse[] = [];
  const paths: string[] = [];
  let most = 0;
  const server = http.createServer((req, res) => {
    paths.push(`${req.method} ${req.url}`);
    waiting.push(res);
    most = Math.max(most, waiting.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const release = () => {
    for (const res of waiting.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  };
  return {
    url: `http://127.0.0.1:${port}`,
    held: () => waiting.length,
    most: () => most,
    paths,
    release,
    close: () => {
      release();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition not reached within 2 s');
};

test('at most maxConcurrentRequests are in flight; the others wait their turn and all complete', async () => {
  const s = await holdingServer();
  try {
    const octokit = new SlotOctokit({ baseUrl: s.url, maxConcurrentRequests: 3 });
    const all = Promise.all(Array.from({ length: 8 }, (_, i) => octokit.request(`GET /users/u${i}`)));
    const wave = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `GET /users/u${from + i}`);
    // The slots go in arrival order (each wave may reach the server in any order: three connections).
    await until(() => s.held() === 3);
    // Nothing more gets through while the three are held.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([...s.paths].sort(), wave(0, 3));
    s.release();
    await until(() => s.held() === 3);
    assert.deepEqual(s.paths.slice(3).sort(), wave(3, 6));
    s.release();
    await until(() => s.held() === 2);
    s.release();
    assert.equal((await all).length, 8);
    assert.deepEqual(s.paths.slice(6).sort(), wave(6, 8));
    assert.equal(s.most(), 3);
  } finally {
    await s.close();
  }
});

test('a request whose signal aborts while it waits leaves the queue without taking a slot', async () => {
  const s = await holdingServer();
  try {
    const octokit = new SlotOctokit({ baseUrl: s.url, maxConcurrentRequests: 1 });
    const first = octokit.request('GET /users/first');
    await until(() => s.held() === 1);
    const gone = new AbortController();
    const abandoned = octokit.request('GET /users/abandoned', { request: { signal: gone.signal } });
    const third = octokit.request('GET /users/third');
    // Both are queued behind the first by now (Octokit reaches its hooks a few ticks after request()).
    await new Promise((r) => setTimeout(r, 50));
    gone.abort(new Error('lookup deadline'));
    // At once, not when a slot frees up (nothing frees one here until the check is done).
    const settled = await Promise.race([abandoned.then(() => 'answered', (e: Error) => e.message), new Promise((r) => setTimeout(r, 500, 'still waiting'))]);
    assert.equal(settled, 'lookup deadline');
    s.release();
    await first;
    await until(() => s.held() === 1);
    s.release();
    await third;
    assert.deepEqual(s.paths, ['GET /users/first', 'GET /users/third']);
  } finally {
    await s.close();
  }
});

test('minting an App installation token never waits for a slot (the held requests may be waiting for it)', async () => {
  const s = await holdingServer();
  try {
    const octokit = new SlotOctokit({ baseUrl: s.url, maxConcurrentRequests: 1 });
    const held = octokit.request('GET /users/held');
    await until(() => s.held() === 1);
    const mint = octokit.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: 7 });
    await until(() => s.held() === 2);
    assert.equal(s.paths[1], 'POST /app/installations/7/access_tokens');
    s.release();
    await Promise.all([held, mint]);
  } finally {
    await s.close();
  }
});

/**
 * Keeps the event loop as busy as ending a burst of sessions does (bench/README.md,
 * "Revocation"): every timer phase runs one 4 ms task. Returns how many ran.
 */
function busyLoop(): { turns: () => number; stop: () => void } {
  let turns = 0;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    turns += 1;
    const until = Date.now() + 4;
    while (Date.now() < until) {
      // The session endings' synchronous share.
    }
    timer = setTimeout(tick, 0);
  };
  timer = setTimeout(tick, 0);
  return { turns: () => turns, stop: () => clearTimeout(timer) };
}

test("25 logins re-checked at once go to GitHub together, not one per event-loop turn, while the loop is busy", async () => {
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_slots' });
  gh.addTeam('ops');
  const logins = Array.from({ length: 25 }, (_, i) => `gone${i}`);
  for (const l of logins) gh.addUser(l, { keys: ['ssh-ed25519 AAAAx'] });
  const apiUrl = await gh.start();
  const dir = new GitHubDirectory({
    apiUrl, token: 'ghp_slots', org: 'acme', teams: ['ops'],
    cacheTtlMs: 60_000, maxStaleMs: 600_000, negativeTtlMs: 30_000, requestTimeoutMs: 5000,
    userAgent: 'teamssh-test/0', logger,
  });
  const loop = busyLoop();
  try {
    const records = await Promise.all(logins.map((l) => dir.refresh(l)));
    assert.ok(records.every((r) => r.status === 'ok' && r.teams.length === 0), JSON.stringify(records[0]));
    // 50 requests, 10 at a time. With @octokit/plugin-throttling each request went through
    // its two Bottleneck limiters one setTimeout(0) step after another, one request at a time:
    // 112 to 113 turns of this busy loop in three runs; with request slots, 23 in three runs.
    assert.ok(loop.turns() < 60, `the re-checks took ${loop.turns()} busy event-loop turns`);
  } finally {
    loop.stop();
    await gh.stop();
  }
});
