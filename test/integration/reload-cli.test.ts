import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FakeGitHub } from '../fakes/github.js';
import { FakeAsciinema } from '../fakes/asciinema-server.js';
import { ensureTestAccount } from '../support/accounts.js';
import { makeKey, sshClient, TEST_ACCOUNT } from '../support/teamssh.js';
import { serve } from '../support/serve-child.js';
import { cli } from '../support/cli.js';
import { waitFor } from '../support/poll.js';

/** Opens a TCP connection to the server and drops it: the server logs a debug `disconnect` line. */
function knock(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  });
}

const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('teamssh serve: SIGHUP reopens the log file and reloads; `teamssh reload` applies the file, refuses a bad one with every problem, and upload settings apply live', async () => {
  await ensureTestAccount(TEST_ACCOUNT);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-reload-'));
  const gh = new FakeGitHub({ org: 'acme', token: 'ghp_reload' });
  const asciinema = new FakeAsciinema();
  const alice = await makeKey(dir, 'alice');
  gh.addTeam('ops').addUser('Alice', { keys: [alice.publicLine] }).addMember('ops', 'Alice');
  const configFile = path.join(dir, 'teamssh.yaml');
  const logFile = path.join(dir, 'log', 'teamssh.log');
  const socket = path.join(dir, 'state', 'control.sock');
  const apiUrl = await gh.start();
  const asciinemaUrl = await asciinema.start();
  await writeFile(configFile, 'logLevel: info\ngithub:\n  teams: [ops]\n');
  const srv = await serve({
    TEAMSSH_CONFIG: configFile,
    TEAMSSH_LISTEN: '127.0.0.1:0',
    TEAMSSH_GITHUB_ORG: 'acme',
    GITHUB_TOKEN: 'ghp_reload',
    TEAMSSH_GITHUB_API_URL: apiUrl,
    TEAMSSH_SHELL_USER: TEST_ACCOUNT,
    TEAMSSH_STATE_DIR: path.join(dir, 'state'),
    TEAMSSH_RECORDINGS_DIR: path.join(dir, 'rec'),
    TEAMSSH_LOG_FILE: logFile,
  });
  try {
    // Log level: debug lines appear only once a reload turned them on.
    await knock(srv.port);
    await writeFile(configFile, 'logLevel: debug\ngithub:\n  teams: [ops]\n');
    const ok = await cli(['reload', '--socket', socket]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'reloaded: applied TEAMSSH_LOG_LEVEL\n');
    await knock(srv.port);
    const debugged = await waitFor(async () => lines(await readFile(logFile, 'utf8')).filter((l) => l.event === 'disconnect').length, { what: 'a disconnect line at debug level' });
    assert.equal(debugged, 1, 'the connection before the reload logged nothing at debug');

    // An invalid file: exit status 1, every problem named, nothing changed.
    await writeFile(configFile, 'logLevel: loud\ngithub:\n  teams: []\nsessions:\n  maxPerLogin: -1\n');
    const bad = await cli(['reload', '--socket', socket]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /reload refused, the server keeps its configuration/);
    for (const name of ['TEAMSSH_LOG_LEVEL', 'TEAMSSH_GITHUB_TEAMS', 'TEAMSSH_MAX_SESSIONS_PER_LOGIN']) assert.match(bad.stderr, new RegExp(`- ${name} `), `${name} is named`);
    // Valid YAML, but a session account that does not exist: the pre-flight checks of a start run too.
    await writeFile(configFile, 'logLevel: debug\ngithub:\n  teams: [ops]\nsessions:\n  policies:\n    - team: ops\n      account: no-such-account-r\n');
    const missing = await cli(['reload', '--socket', socket]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /- TEAMSSH_TEAM_POLICIES \(sessions.policies, team ops\): local account "no-such-account-r" does not exist/);
    const loggedIn = await sshClient(srv.port, 'alice', alice, ['echo', 'in']);
    assert.equal(loggedIn.stdout, 'in\n', 'the old config still serves');

    // logrotate: move the file away, SIGHUP; later lines go to a new file at the configured path.
    await rename(logFile, `${logFile}.1`);
    await writeFile(configFile, `logLevel: debug\ngithub:\n  teams: [ops]\nupload:\n  serverUrl: ${asciinemaUrl}\n`);
    srv.proc.kill('SIGHUP');
    const reloaded = await waitFor(async () => lines(await readFile(logFile, 'utf8').catch(() => '')).find((l) => l.event === 'reload'), { what: 'the reload event in the reopened log file' });
    assert.deepEqual([reloaded.applied, reloaded.deferred], [['ASCIINEMA_SERVER_URL'], []]);
    assert.ok(!lines(await readFile(`${logFile}.1`, 'utf8')).some((l) => l.event === 'reload' && (l.applied as string[]).includes('ASCIINEMA_SERVER_URL')), 'the rotated file gets nothing after the reopen');

    // The recording made before uploads were configured ships once the reload started the uploader.
    await waitFor(() => asciinema.uploads.length >= 1, { timeoutMs: 15_000, what: 'the recording uploaded after the reload', detail: srv.output });

    srv.proc.kill('SIGTERM');
    assert.equal((await srv.exited).code, 0);
  } finally {
    if (srv.proc.exitCode === null) srv.proc.kill('SIGKILL');
    await gh.stop();
    await asciinema.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
