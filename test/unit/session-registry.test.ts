import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionRegistry, type RegisteredSession } from '../../src/session/registry.js';

const session = (id: string, login: string, fingerprint: string, teams: string[], connectionId = 'c1'): RegisteredSession => ({ id, login, fingerprint, teams, connectionId });

test('admission reserves synchronously: the cap holds however many ask at once, and release frees the slot', () => {
  const r = new SessionRegistry<RegisteredSession>(3);
  const got = Array.from({ length: 12 }, () => r.tryAdmit('Alice'));
  assert.equal(got.filter(Boolean).length, 3);
  assert.equal(r.count('alice'), 3, 'logins compare case-insensitively');
  assert.ok(r.tryAdmit('bob'), 'the cap is per login');
  got[0]!.release();
  got[0]!.release(); // idempotent: freeing twice must not free someone else's slot
  assert.equal(r.count('alice'), 2);
  assert.ok(r.tryAdmit('alice'));
  assert.equal(r.tryAdmit('alice'), undefined);
});

test('lookups by id, login, key, team and connection see registered sessions until they are released', () => {
  const r = new SessionRegistry<RegisteredSession>(10);
  const a1 = r.tryAdmit('alice')!;
  const a2 = r.tryAdmit('alice')!;
  const b = r.tryAdmit('bob')!;
  a1.register(session('s1', 'Alice', 'SHA256:k1', ['ops'], 'c1'));
  a2.register(session('s2', 'Alice', 'SHA256:k2', ['ops', 'dev'], 'c2'));
  b.register(session('s3', 'bob', 'SHA256:k3', ['dev'], 'c2'));
  assert.deepEqual(r.byLogin('ALICE').map((s) => s.id), ['s1', 's2']);
  assert.deepEqual(r.byFingerprint('SHA256:k2').map((s) => s.id), ['s2']);
  assert.deepEqual(r.byTeam('Dev').map((s) => s.id), ['s2', 's3']);
  assert.deepEqual(r.byConnection('c2').map((s) => s.id), ['s2', 's3']);
  assert.equal(r.byId('s3')?.login, 'bob');
  assert.deepEqual(r.logins().sort(), ['Alice', 'bob']);
  a2.release();
  assert.deepEqual(r.byTeam('dev').map((s) => s.id), ['s3']);
  assert.equal(r.byId('s2'), undefined);
  assert.equal(r.size, 2);
  assert.throws(() => a1.register(session('s9', 'Alice', 'x', [])), /once/);
});
