import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { startHarness } from '../support/teamssh.js';
import { connect, exec, shell } from '../support/ssh2-client.js';
import { cli } from '../support/cli.js';
import type { SessionSummary } from '../../src/control/protocol.js';

test('teamssh sessions and kill without a running server say so in one line and exit non-zero', async () => {
  for (const args of [['sessions'], ['kill', 'abc']]) {
    const r = await cli([...args, '--socket', '/tmp/teamssh-no-such-server.sock']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^teamssh: no running teamssh server at \/tmp\/teamssh-no-such-server\.sock[^\n]*\n$/);
  }
});

test('teamssh sessions lists live sessions; teamssh kill ends one, then every session of a login, audited with the operator', async () => {
  const h = await startHarness();
  try {
    const socket = h.config.controlSocket;
    assert.equal((await stat(socket)).mode & 0o777, 0o600, 'only the server user may use the socket');
    const c = await connect(h.port, 'alice', h.alice);
    const sh = await shell(c);
    sh.channel.write('echo ready\n');
    await sh.waitFor('ready');
    // A secret in the command line is listed as the recording shows it: redacted.
    const token = `ghp_${'A1b2'.repeat(9)}`;
    const cmd = await exec(c, `echo go; sleep 60 # ${token}`);
    await cmd.waitFor('go');

    const listed = await cli(['sessions', '--json', '--socket', socket]);
    assert.equal(listed.code, 0, listed.stderr);
    const sessions = JSON.parse(listed.stdout) as SessionSummary[];
    assert.equal(sessions.length, 2);
    const s = sessions.find((x) => x.kind === 'shell')!;
    assert.equal(s.login, 'Alice');
    assert.equal(s.team, 'ops');
    assert.match(s.fingerprint, /^SHA256:/);
    assert.equal(s.remoteAddress, '127.0.0.1');
    assert.equal(s.state, 'running');
    assert.equal(sessions.find((x) => x.kind === 'exec')?.command, `echo go; sleep 60 # ${'*'.repeat(token.length)}`);
    assert.ok(!listed.stdout.includes(token), 'the token is not listed');
    const table = await cli(['sessions', '--socket', socket]);
    assert.match(table.stdout, /^ID\s+LOGIN\s+TEAM/);
    assert.match(table.stdout, new RegExp(`${s.id}\\s+Alice\\s+ops`));

    const one = await cli(['kill', s.id, '--socket', socket]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, `ended 1 session: ${s.id}\n`);
    await sh.exit;
    assert.match(sh.out(), /teamssh: session ended by an operator/);
    const end = await h.log.waitFor('session_end', (l) => l.sessionId === s.id);
    assert.equal(end.endReason, 'killed');
    assert.equal(end.killedByUid, process.getuid!());
    const killed = h.log.events('session_killed').find((l) => l.sessionId === s.id);
    assert.equal(killed?.operatorUid, process.getuid!());
    // The sidecar says it too: reviewers see why the recording stops.
    const sidecarFile = (await readdir(h.config.recordings.dir)).find((f) => f.endsWith(`${s.id}.json`));
    const sidecar = JSON.parse(await readFile(path.join(h.config.recordings.dir, sidecarFile!), 'utf8')) as Record<string, unknown>;
    assert.equal(sidecar.endReason, 'killed');

    assert.equal((await cli(['kill', s.id, '--socket', socket])).code, 1, 'an ended session cannot be killed again');
    const all = await cli(['kill', '--login', 'alice', '--socket', socket]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^ended 1 session: /);
    const r = await cmd.exit;
    assert.ok(r.code !== 0 || r.signal, 'the killed command did not end successfully');
    await h.log.waitFor('session_end', (l) => l.kind === 'exec' && l.endReason === 'killed');
    assert.deepEqual(JSON.parse((await cli(['sessions', '--json', '--socket', socket])).stdout), []);
    c.end();
  } finally {
    await h.close();
  }
});
