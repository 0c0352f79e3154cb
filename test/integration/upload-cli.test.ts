import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FakeAsciinema } from '../fakes/asciinema-server.js';
import { startCli, type CliChild } from '../support/serve-child.js';
import { listeningPorts } from '../support/listening-ports.js';
import { scrape } from '../support/prometheus.js';
import { waitFor } from '../support/poll.js';
import { writeRecording } from '../support/recordings.js';
import { cli } from '../support/cli.js';

// The split deployment's uploader (the Procfile's `uploader:` process) as an operator runs it:
// the real `teamssh upload` command, against the fake asciinema server.

const TOKEN = 'upload-metrics-token-0123456789';
const INSTALL_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

async function uploadWorld(extra: Record<string, string>): Promise<{ env: Record<string, string>; dir: string; rec: string; fake: FakeAsciinema; start(ready: RegExp, what: string): Promise<CliChild & { ready: RegExpExecArray }>; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-upcli-'));
  const rec = path.join(dir, 'rec');
  const fake = new FakeAsciinema();
  const env = {
    // `upload` validates the whole configuration, as every command does; it never asks GitHub.
    TEAMSSH_GITHUB_ORG: 'acme',
    TEAMSSH_GITHUB_TEAMS: 'ops',
    GITHUB_TOKEN: 'ghp_upcli',
    TEAMSSH_SHELL_USER: 'teamssh',
    TEAMSSH_STATE_DIR: path.join(dir, 'state'),
    TEAMSSH_RECORDINGS_DIR: rec,
    ASCIINEMA_SERVER_URL: await fake.start(),
    ASCIINEMA_INSTALL_ID: INSTALL_ID,
    ...extra,
  };
  const children: CliChild[] = [];
  return {
    env,
    dir,
    rec,
    fake,
    async start(pattern, what) {
      const c = await startCli(['upload'], env, { pattern, what });
      children.push(c);
      return c;
    },
    async close() {
      for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await fake.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('TEAMSSH_UPLOAD_HTTP_LISTEN: `teamssh upload` serves its metrics (token required), /healthz and /readyz, and a 401 pause shows in both', async () => {
  const w = await uploadWorld({ TEAMSSH_UPLOAD_HTTP_LISTEN: '127.0.0.1:0', TEAMSSH_METRICS_TOKEN: TOKEN, TEAMSSH_HTTP_LISTEN: '127.0.0.1:0' });
  try {
    const child = await w.start(/"event":"http_listening".*?"port":(\d+)/, 'the uploader HTTP listener');
    const port = Number(child.ready[1]);
    const base = `http://127.0.0.1:${port}`;
    assert.deepEqual(await listeningPorts(child.proc.pid!), [port], 'its own listener and nothing else (TEAMSSH_HTTP_LISTEN is the server\'s)');

    const open = await fetch(`${base}/metrics`);
    assert.equal(open.status, 401);
    assert.equal(((await open.json()) as { error: { code: string } }).error.code, 'ERR_METRICS_UNAUTHORIZED');
    assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status, 401);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const ready = await fetch(`${base}/readyz`);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    assert.equal(ready.status, 200, JSON.stringify(body));
    assert.deepEqual(Object.keys(body.checks).sort(), ['recordings_dir', 'shutdown', 'upload'], 'the uploader\'s checks: no SSH port, no GitHub');

    await writeRecording(w.rec, 'rec-one');
    await w.fake.waitForUploads(1, 5000);
    const s = await waitFor(
      async () => {
        const x = await scrape(`${base}/metrics`, TOKEN);
        return x.value('teamssh_uploads_total', { result: 'uploaded' }) === 1 && x;
      },
      { what: 'teamssh_uploads_total{result="uploaded"} to reach 1', timeoutMs: 5000 },
    );
    assert.equal(s.value('teamssh_upload_duration_seconds_count'), 1);
    assert.equal(s.value('teamssh_uploads_total', { result: 'rejected' }), 0);
    assert.ok(s.has('teamssh_recordings_pending') && s.has('teamssh_upload_paused') && s.has('teamssh_process_cpu_seconds_total'));
    // The server's metrics are not exported by the uploader: absent, not a misleading 0.
    for (const serverOnly of ['teamssh_auth_attempts_total', 'teamssh_connections_active', 'teamssh_sessions_active', 'teamssh_github_requests_total', 'teamssh_webhook_deliveries_total']) {
      assert.ok(!s.names().includes(serverOnly), `${serverOnly} is not exported by teamssh upload`);
    }

    // The asciinema server refuses the install id: the uploader pauses, and says so.
    w.fake.requireAccounts();
    w.fake.revoke(INSTALL_ID);
    await writeRecording(w.rec, 'rec-two');
    const paused = await waitFor(
      async () => {
        const r = await fetch(`${base}/readyz`);
        return r.status === 503 && ((await r.json()) as { checks: Record<string, { ok: boolean; paused?: boolean }> });
      },
      { what: '/readyz to turn 503 on the 401 pause', timeoutMs: 5000 },
    );
    assert.deepEqual(paused.checks.upload, { ok: false, paused: true });
    const p = await scrape(`${base}/metrics`, TOKEN);
    assert.equal(p.value('teamssh_upload_paused'), 1);
    assert.equal(p.value('teamssh_recordings_pending'), 1, 'rec-two waits in the directory');

    // SIGTERM: a graceful stop that closes the listener; SIGHUP before it changes nothing.
    child.proc.kill('SIGHUP');
    await waitFor(() => /SIGHUP ignored/.test(child.output()), { what: 'the SIGHUP to be logged as ignored', detail: child.output });
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'still serving after SIGHUP');
    child.proc.kill('SIGTERM');
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    assert.match(child.output(), /"event":"upload_stopped"/);
    await assert.rejects(fetch(`${base}/healthz`), 'the listener is closed');
  } finally {
    await w.close();
  }
});

test('without TEAMSSH_UPLOAD_HTTP_LISTEN `teamssh upload` opens no port, even with the server\'s TEAMSSH_HTTP_LISTEN set', async () => {
  const w = await uploadWorld({ TEAMSSH_HTTP_LISTEN: '127.0.0.1:0', TEAMSSH_METRICS_TOKEN: TOKEN });
  try {
    const child = await w.start(/"event":"upload_connect"/, 'the uploader to start');
    await writeRecording(w.rec, 'rec-one');
    await w.fake.waitForUploads(1, 5000);
    assert.deepEqual(await listeningPorts(child.proc.pid!), []);
    assert.doesNotMatch(child.output(), /http_listening/);
    child.proc.kill('SIGTERM');
    assert.deepEqual(await child.exited, { code: 0, signal: null });
  } finally {
    await w.close();
  }
});

test('a TEAMSSH_UPLOAD_HTTP_LISTEN port already taken fails the start with ERR_HTTP_LISTEN, exit status 1', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const { port } = taken.address() as { port: number };
  const w = await uploadWorld({ TEAMSSH_UPLOAD_HTTP_LISTEN: `127.0.0.1:${port}` });
  try {
    // Bounded: an uploader that ran on without its listener would otherwise keep the test waiting.
    const r = await cli(['upload'], w.env, { timeoutMs: 15_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`teamssh: cannot listen for HTTP on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  } finally {
    taken.close();
    await w.close();
  }
});
