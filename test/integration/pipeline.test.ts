import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakeGitHub } from '../fakes/github.js';
import { FakeAsciinema } from '../fakes/asciinema-server.js';
import { ensureTestAccount } from '../support/accounts.js';
import { makeKey, sshClient, TEST_ACCOUNT } from '../support/teamssh.js';
import { serve } from '../support/serve-child.js';
import { waitFor } from '../support/poll.js';

// The whole product as an operator runs it: `teamssh serve` with the uploader in-process.
test('a finished session is on the asciinema server, private, within 2 s of its end', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-pipe-'));
  await chmod(dir, 0o755);
  await ensureTestAccount(TEST_ACCOUNT);
  const key = await makeKey(dir, 'alice');
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_pipe' });
  gh.addTeam('ops').addUser('alice', { keys: [key.publicLine] }).addMember('ops', 'alice');
  const asciinema = new FakeAsciinema();
  const installId = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const rec = path.join(dir, 'rec');
  const srv = await serve({
    TEAMSSH_LISTEN: '127.0.0.1:0',
    TEAMSSH_STATE_DIR: path.join(dir, 'state'),
    TEAMSSH_RECORDINGS_DIR: rec,
    TEAMSSH_GITHUB_ORG: 'acme',
    TEAMSSH_GITHUB_TEAMS: 'ops',
    GITHUB_TOKEN: 'ghp_pipe',
    TEAMSSH_GITHUB_API_URL: await gh.start(),
    TEAMSSH_SHELL_USER: TEST_ACCOUNT,
    ASCIINEMA_SERVER_URL: await asciinema.start(),
    ASCIINEMA_INSTALL_ID: installId,
  });
  try {
    const r = await sshClient(srv.port, 'alice', key, ['echo shipped-output']);
    const ended = Date.now();
    assert.equal(r.code, 0, r.stderr);
    const [upload] = await asciinema.waitForUploads(1, 2000);
    assert.ok(Date.now() - ended < 2000, 'uploaded within 2 s of the session end');
    assert.equal(upload!.visibility, 'private');
    assert.equal(upload!.installId, installId);
    assert.match(upload!.body.toString('utf8'), /shipped-output/);
    assert.match(upload!.userAgent ?? '', /^teamssh\//);
    assert.match(upload!.fields.description ?? '', /alice/);
    assert.match(upload!.fields.description ?? '', /SHA256:/);
    // The title travels as a form field from the sidecar, not only inside the cast header.
    assert.match(upload!.fields.title ?? '', /^alice@.+: echo shipped-output from 127\.0\.0\.1$/i);
    // The audit log's hash, the sidecar's hash and the uploaded bytes agree.
    await waitFor(() => /"event":"recording_uploaded"/.test(srv.output()), { timeoutMs: 3000, what: 'recording_uploaded in the log', detail: srv.output });
    const sessionEnd = JSON.parse(srv.output().split('\n').find((l) => l.includes('"event":"session_end"'))!) as { sha256: string };
    assert.equal(upload!.sha256, sessionEnd.sha256);
    assert.match(srv.output(), /"event":"recording_uploaded"/);
    assert.match(srv.output(), new RegExp(`/connect/${installId}`));
    const uploaded = await readdir(path.join(rec, 'uploaded'));
    const sidecar = JSON.parse(await readFile(path.join(rec, 'uploaded', uploaded.find((f) => f.endsWith('.json'))!), 'utf8')) as { url: string };
    assert.equal(sidecar.url, upload!.url);
    assert.doesNotMatch(srv.output(), /ghp_pipe/);
  } finally {
    srv.proc.kill('SIGTERM');
    await srv.exited;
    await asciinema.stop();
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
