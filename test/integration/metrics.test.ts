import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { startHarness, makeKey, spawnSsh, type Harness, type ClientKey } from '../support/teamssh.js';
import { scrape, type Scrape } from '../support/prometheus.js';
import { waitFor } from '../support/poll.js';
import { FakeAsciinema } from '../fakes/asciinema-server.js';
import { FAST_BACKOFF } from '../support/upload-harness.js';
import { startUploader } from '../../src/upload/uploader.js';
import { createLogger } from '../../src/log.js';

// One server for the file: counters are compared before and after each case, so cases stay
// independent of each other's counts. Real OpenSSH (and ssh2 for the forged cases) logins.
let h: Harness;
const keys: Record<string, ClientKey> = {};

before(async () => {
  h = await startHarness({
    env: {
      TEAMSSH_HTTP_LISTEN: '127.0.0.1:0',
      TEAMSSH_CACHE_TTL: '1',
      // Short enough to wait past, long enough that a loaded machine still refreshes with ETags within it.
      TEAMSSH_CACHE_MAX_STALE: '4',
      TEAMSSH_NEGATIVE_CACHE_TTL: '1',
      TEAMSSH_MAX_AUTH_TRIES: '3',
      TEAMSSH_REVALIDATE_INTERVAL: '0',
    },
    async setup(gh, dir) {
      for (const name of ['bob', 'carol', 'mallory', 'frank', 'rsa']) keys[name] = await makeKey(dir, name, name === 'rsa' ? 'rsa' : 'ed25519');
      gh.addUser('bob', { keys: [keys.bob!.publicLine] });
      gh.addUser('carol', { keys: [keys.carol!.publicLine] }).addMember('ops', 'carol', 'pending');
      gh.addUser('frank', { keys: [keys.frank!.publicLine] }).addMember('ops', 'frank');
      gh.addUser('rsa-user', { keys: [keys.rsa!.publicLine] }).addMember('ops', 'rsa-user');
    },
  });
});
after(() => h.close());

const base = () => `http://127.0.0.1:${h.server.httpAddress!.port}`;
const metrics = (): Promise<Scrape> => scrape(`${base()}/metrics`);
const readyz = async (): Promise<{ status: number; body: { status: string; checks: Record<string, { ok: boolean; [k: string]: unknown }> } }> => {
  const res = await fetch(`${base()}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
};
const attempts = (s: Scrape, result: string) => s.value('teamssh_auth_attempts_total', { result });

test('an accepted login moves the auth, session and GitHub counters', async () => {
  const s0 = await metrics();
  const r = await h.ssh('alice', h.alice, ['echo', 'counted']);
  assert.equal(r.code, 0, r.stderr);
  await h.log.waitFor('session_end', (l) => l.login === 'Alice' && l.command === 'echo counted');
  const s1 = await metrics();
  assert.equal(attempts(s1, 'accepted') - attempts(s0, 'accepted'), 1, 'one accepted login');
  assert.equal(s1.value('teamssh_sessions_total', { kind: 'exec' }) - s0.value('teamssh_sessions_total', { kind: 'exec' }), 1);
  assert.equal(s1.value('teamssh_sessions_ended_total', { reason: 'exit' }) - s0.value('teamssh_sessions_ended_total', { reason: 'exit' }), 1);
  assert.equal(s1.value('teamssh_session_duration_seconds_count') - s0.value('teamssh_session_duration_seconds_count'), 1);
  // The first lookup of the file asked GitHub: route templates, never the login, as labels.
  assert.ok(s1.value('teamssh_github_requests_total', { route: '/users/:u', status: '200' }) >= 1, 'GET /users/:u counted');
  assert.ok(s1.value('teamssh_github_requests_total', { route: '/users/:u/keys', status: '200' }) >= 1, 'GET /users/:u/keys counted');
  assert.ok(s1.value('teamssh_github_requests_total', { route: '/orgs/:org/teams/:team/memberships/:u', status: '200' }) >= 1);
  assert.ok(s1.value('teamssh_github_request_duration_seconds_count') >= 3);
  assert.ok(s1.has('teamssh_github_rate_limit_remaining'), 'rate limit gauge set from the answer headers');
  assert.doesNotMatch(s1.text, /alice|127\.0\.0\.1|SHA256:/i, 'no login, address or key in any label');

  // A second login within the TTL is a cache hit with no request.
  const s2 = await metrics();
  assert.equal((await h.ssh('alice', h.alice, ['true'])).code, 0);
  const s3 = await metrics();
  assert.ok(s3.value('teamssh_github_cache_total', { result: 'hit' }) > s2.value('teamssh_github_cache_total', { result: 'hit' }), 'cache hit counted');
  // Past the TTL the same answer comes back as 304s.
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await h.ssh('alice', h.alice, ['true'])).code, 0);
  const s4 = await metrics();
  assert.ok(s4.value('teamssh_github_cache_total', { result: 'not_modified' }) > s3.value('teamssh_github_cache_total', { result: 'not_modified' }), `not_modified counted: ${s4.text.split('\n').filter((l) => /cache_total|status="304"/.test(l)).join('; ')} / ${s3.text.split('\n').filter((l) => /cache_total/.test(l)).join('; ')}`);
  assert.ok(s4.value('teamssh_github_requests_total', { route: '/users/:u', status: '304' }) >= 1);
});

test('each refusal moves its own reason', async () => {
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['not_member', () => h.ssh('bob', keys.bob!, ['true'])],
    ['pending_invitation', () => h.ssh('carol', keys.carol!, ['true'])],
    ['no_such_user', () => h.ssh('nobody-here', keys.bob!, ['true'])],
    ['key_not_on_github', () => h.ssh('alice', keys.mallory!, ['true'])],
    ['too_many_attempts', () => h.ssh('alice', keys.bob!, ['true'], { sshOptions: [keys.bob!, keys.carol!, keys.mallory!].flatMap((k) => ['-i', k.path]) })],
    ['bad_signature', () => forgedLogin()],
    ['sha1_signature', () => sha1Login()],
  ];
  for (const [reason, login] of cases) {
    const s0 = await metrics();
    await login();
    const s1 = await waitFor(async () => {
      const s = await metrics();
      return attempts(s, reason) > attempts(s0, reason) && s;
    }, { what: `teamssh_auth_attempts_total{result="${reason}"} to move` });
    assert.equal(attempts(s1, 'accepted'), attempts(s0, 'accepted'), `${reason}: nothing accepted`);
  }
});

test('live sessions and connections are gauged while they run', async () => {
  const child = spawnSsh(h.port, 'alice', h.alice, ['sleep', '30']);
  try {
    const s = await waitFor(async () => {
      const m = await metrics();
      return m.value('teamssh_sessions_active', { kind: 'exec' }) === 1 && m;
    }, { what: 'one live exec session in the gauge' });
    assert.equal(s.value('teamssh_sessions_active', { kind: 'shell' }), 0);
    assert.ok(s.value('teamssh_connections_active') >= 1);
  } finally {
    child.kill('SIGKILL');
  }
  await waitFor(async () => (await metrics()).value('teamssh_sessions_active', { kind: 'exec' }) === 0, { what: 'the gauge back at 0' });
});

test('/healthz answers; /readyz names every check and is ready', async () => {
  const health = await fetch(`${base()}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
  const r = await readyz();
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body.checks).sort(), ['github', 'recordings_dir', 'shutdown', 'ssh_listener', 'upload']);
  for (const [name, c] of Object.entries(r.body.checks)) assert.equal(c.ok, true, name);
});

test('GitHub down past TEAMSSH_CACHE_MAX_STALE: refusals say github_unavailable and /readyz turns 503 until GitHub answers', async () => {
  assert.equal((await h.ssh('alice', h.alice, ['true'])).code, 0); // GitHub answered just now
  h.github.setDown(true);
  try {
    const s0 = await metrics();
    assert.equal((await h.ssh('frank', keys.frank!, ['true'])).code, 255);
    const s1 = await metrics();
    assert.ok(attempts(s1, 'github_unavailable') > attempts(s0, 'github_unavailable'));
    assert.ok(s1.value('teamssh_github_requests_total', { route: '/users/:u', status: 'error' }) >= 1, 'a request with no answer is status "error"');
    // Within max-stale the cache still serves verified members: still ready.
    assert.equal((await readyz()).status, 200, 'GitHub answered less than max-stale ago');
    const r = await waitFor(async () => {
      const x = await readyz();
      return x.status === 503 && x;
    }, { what: '/readyz 503 once max-stale (4 s) passed', timeoutMs: 10_000 });
    assert.equal(r.body.checks.github!.ok, false);
    assert.equal(r.body.checks.recordings_dir!.ok, true);
    assert.equal(r.body.status, 'not_ready');
  } finally {
    h.github.setDown(false);
  }
  assert.equal((await readyz()).status, 503, 'nothing has asked GitHub since it came back');
  assert.equal((await h.ssh('frank', keys.frank!, ['true'])).code, 0);
  assert.equal((await readyz()).status, 200);
});

test('/readyz turns 503 while the recordings directory is unusable, and back', async () => {
  const dir = h.config.recordings.dir;
  await rename(dir, `${dir}.away`);
  try {
    const r = await readyz();
    assert.equal(r.status, 503);
    assert.equal(r.body.checks.recordings_dir!.ok, false);
    assert.equal(r.body.checks.recordings_dir!.error, 'ENOENT');
  } finally {
    await rename(`${dir}.away`, dir);
  }
  assert.equal((await readyz()).status, 200);
});

test('uploads: pending recordings, a 401 pause (metric and /readyz), then the upload counted', async () => {
  const fake = new FakeAsciinema({ requireAccounts: true });
  const installId = '7d444840-9dc0-11d1-b245-5ffdce74fad2';
  const uploader = await startUploader({
    dir: h.config.recordings.dir, stateDir: h.config.stateDir, serverUrl: await fake.start(), installId, username: '', visibility: 'private',
    allowPublicServer: false, concurrency: 2, maxBytes: 8_000_000, keepUploaded: true, requestTimeoutMs: 5000, version: 'test',
    logger: createLogger({ level: 'debug', destination: h.log }), backoff: FAST_BACKOFF, stopGraceMs: 500, rescanMs: 300,
  });
  try {
    // Recordings of the cases before wait too: with the id refused, none can go until it is registered.
    const s0 = await metrics();
    assert.equal((await h.ssh('alice', h.alice, ['echo', 'to-upload'])).code, 0);
    const paused = await waitFor(async () => {
      const m = await metrics();
      return m.value('teamssh_upload_paused') === 1 && m;
    }, { what: 'teamssh_upload_paused 1 after the 401' });
    assert.ok(paused.value('teamssh_recordings_pending') >= 1, 'the recording waits');
    const r = await readyz();
    assert.equal(r.status, 503);
    assert.equal(r.body.checks.upload!.ok, false);

    fake.register(installId);
    const s1 = await waitFor(async () => {
      const m = await metrics();
      return m.value('teamssh_uploads_total', { result: 'uploaded' }) > s0.value('teamssh_uploads_total', { result: 'uploaded' }) && m;
    }, { what: 'an upload counted' });
    assert.equal(s1.value('teamssh_upload_paused'), 0);
    assert.ok(s1.value('teamssh_upload_duration_seconds_count') > s0.value('teamssh_upload_duration_seconds_count'));
    await uploader.idle();
    assert.equal((await metrics()).value('teamssh_recordings_pending'), 0);
    assert.equal((await readyz()).status, 200);
  } finally {
    await uploader.stop();
    await fake.stop();
  }
});

test('TEAMSSH_METRICS_TOKEN: /metrics wants the bearer token, health does not; at shutdown /readyz is 503 while sessions still run', async () => {
  const token = 'metrics-token-0123456789abcdef';
  const t = await startHarness({ env: { TEAMSSH_HTTP_LISTEN: '127.0.0.1:0', TEAMSSH_METRICS_TOKEN: token, TEAMSSH_SHUTDOWN_GRACE: '3' } });
  const url = `http://127.0.0.1:${t.server.httpAddress!.port}`;
  let session: ReturnType<typeof spawnSsh> | undefined;
  try {
    const none = await fetch(`${url}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'ERR_METRICS_UNAUTHORIZED');
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}x` } })).status, 401);
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Basic abc' } })).status, 401);
    const ok = await scrape(`${url}/metrics`, token);
    assert.ok(ok.has('teamssh_auth_attempts_total', { result: 'accepted' }));
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);

    session = spawnSsh(t.port, 'alice', t.alice, ['sleep', '30']);
    await waitFor(() => t.server.sessions.size === 1, { what: 'a live session' });
    const stopping = t.server.shutdown();
    const r = await fetch(`${url}/readyz`);
    const body = (await r.json()) as { checks: Record<string, { ok: boolean }> };
    assert.equal(r.status, 503);
    assert.equal(body.checks.shutdown!.ok, false);
    assert.equal(t.server.sessions.size, 1, 'the session is still live: readyz turned first');
    await stopping;
    assert.ok(!t.log.raw.some((l) => l.includes(token)), 'the token never reaches the log');
  } finally {
    session?.kill('SIGKILL');
    await t.close();
  }
});

/** Signs with Mallory's private key while presenting Alice's public key: bad_signature. */
async function forgedLogin(): Promise<void> {
  const mallory = ssh2.utils.parseKey(await readFile(keys.mallory!.path)) as ssh2.ParsedKey;
  const alicePub = ssh2.utils.parseKey(h.alice.publicLine) as ssh2.ParsedKey;
  const forged = Object.create(mallory) as ssh2.ParsedKey;
  forged.getPublicSSH = () => alicePub.getPublicSSH();
  await new Promise<void>((resolve) => {
    const c = new ssh2.Client();
    c.on('ready', () => c.end());
    c.on('error', () => resolve());
    c.on('close', () => resolve());
    let tried = false;
    c.connect({
      host: '127.0.0.1', port: h.port, username: 'alice', readyTimeout: 10_000,
      authHandler: (_m: unknown, _p: unknown, next: (a: unknown) => void) => {
        next(tried ? false : { type: 'publickey', username: 'alice', key: forged });
        tried = true;
      },
    } as never);
  });
}

/** An RSA login that ignores server-sig-algs and signs with SHA-1: sha1_signature. */
async function sha1Login(): Promise<void> {
  const privateKey = await readFile(keys.rsa!.path);
  await new Promise<void>((resolve) => {
    const c = new ssh2.Client();
    c.on('handshake', () => {
      (c as unknown as { _protocol: { _handlers: Record<string, unknown> } })._protocol._handlers.EXT_INFO = () => undefined;
    });
    c.on('ready', () => c.end());
    c.on('error', () => resolve());
    c.on('close', () => resolve());
    c.connect({ host: '127.0.0.1', port: h.port, username: 'rsa-user', privateKey, readyTimeout: 10_000 });
  });
}
