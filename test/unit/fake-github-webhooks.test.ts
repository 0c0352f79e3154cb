import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhooks } from '@octokit/webhooks';
import { FakeGitHub } from '../fakes/github.js';

// The fake must behave like GitHub (docs/github-webhooks.md), or the revocation tests prove nothing.

async function receiver(): Promise<{ url: string; got: { headers: IncomingHttpHeaders; body: string }[]; close: () => Promise<void> }> {
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, got, close: () => new Promise((r) => server.close(() => r())) };
}

test('the fake delivers membership changes signed like GitHub: headers, GUID, HMAC over the raw body', async () => {
  const rx = await receiver();
  const gh = new FakeGitHub({ org: 'acme', token: 't' });
  try {
    gh.addTeam('ops').addTeam('sre', { parent: 'ops' }).addUser('Alice');
    const hook = gh.hook(rx.url, 'hook-secret');
    gh.addMember('sre', 'alice').removeMember('sre', 'alice').addMember('ops', 'alice', 'pending');
    await hook.settled();
    assert.equal(rx.got.length, 2, 'a pending invitation is not a membership event');
    const verifier = new Webhooks({ secret: 'hook-secret' });
    for (const d of rx.got) {
      assert.equal(d.headers['content-type'], 'application/json');
      assert.equal(d.headers['x-github-event'], 'membership');
      assert.match(String(d.headers['x-github-delivery']), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.match(String(d.headers['user-agent']), /^GitHub-Hookshot\//);
      assert.equal(await verifier.verify(d.body, String(d.headers['x-hub-signature-256'])), true);
    }
    const removed = JSON.parse(rx.got[1]!.body) as Record<string, { login?: string; slug?: string; parent?: { slug: string } }>;
    assert.equal((removed as unknown as { action: string }).action, 'removed');
    assert.deepEqual([removed.member?.login, removed.team?.slug, removed.team?.parent?.slug, removed.organization?.login], ['Alice', 'sre', 'ops', 'acme']);
    assert.ok(removed.sender?.login);
  } finally {
    await gh.stop();
    await rx.close();
  }
});

test('the fake answers org blocks only to admin:org, refuses to block a member, and deletes child teams with their parent', async () => {
  const gh = new FakeGitHub({ org: 'acme', token: 't' });
  try {
    gh.addTeam('ops').addTeam('sre', { parent: 'ops' }).addUser('Eve').addUser('Bob').addMember('ops', 'bob');
    const api = await gh.start();
    assert.throws(() => gh.blockUser('bob'), /422/);
    gh.blockUser('eve');
    const ask = async () => (await fetch(`${api}/orgs/acme/blocks/eve`, { headers: { authorization: 'Bearer t' } })).status;
    assert.equal(await ask(), 404, 'without admin:org GitHub answers 404, blocked or not');
    gh.scopes = 'read:org, admin:org';
    assert.equal(await ask(), 204);
    assert.equal((await fetch(`${api}/orgs/acme/blocks/bob`, { headers: { authorization: 'Bearer t' } })).status, 404);
    gh.deleteTeam('ops');
    for (const t of ['ops', 'sre']) assert.equal((await fetch(`${api}/orgs/acme/teams/${t}`, { headers: { authorization: 'Bearer t' } })).status, 404, t);
  } finally {
    await gh.stop();
  }
});
