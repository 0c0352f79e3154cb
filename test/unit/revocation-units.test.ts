import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MemberRecord } from '../../src/github/directory.js';
import { KeyedQueue } from '../../src/revocation/keyed-queue.js';
import { judge, type VerdictContext } from '../../src/revocation/verdict.js';
import { recheckRequestOf } from '../../src/revocation/webhook-route.js';
import { fingerprintOf, newKeyLine } from '../support/fake-sessions.js';

const k1 = newKeyLine();
const k2 = newKeyLine();
const now = 1_800_000_000_000;
const ctx: VerdictContext = { org: 'acme', teams: ['ops', 'dev'], blocked: false, lastVerifiedAt: now - 1_000, now, maxStaleMs: 600_000 };
const session = { login: 'Alice', team: 'ops', fingerprint: fingerprintOf(k1) };
const member = (over: Partial<Extract<MemberRecord, { status: 'ok' }>> = {}): MemberRecord =>
  ({ status: 'ok', login: 'Alice', teams: ['ops'], pendingTeams: [], keys: [k1, k2], verifiedAt: now, stale: false, ...over });

test('the verdict table: each way an identity stops holding has its reason and one-line message', () => {
  const cases: [string, MemberRecord, Partial<VerdictContext>, string | undefined, string?][] = [
    ['still holds', member(), {}, undefined],
    ['team spelled differently', member({ teams: ['OPS'] }), {}, undefined],
    ['other key removed', member({ keys: [k1] }), {}, undefined],
    ['removed from the team', member({ teams: ['dev'] }), {}, 'not_member', 'access revoked: no longer a member of acme/ops'],
    ['pending only', member({ teams: [], pendingTeams: ['ops'] }), {}, 'pending_invitation'],
    ['key removed', member({ keys: [k2] }), {}, 'key_removed', 'access revoked: the key used for this session was removed from GitHub'],
    ['no keys at all', member({ keys: [] }), {}, 'key_removed'],
    ['account gone', { status: 'no_such_user', login: 'alice' }, {}, 'no_such_user'],
    ['team no longer configured', member(), { teams: ['dev'] }, 'team_not_configured'],
    ['blocked wins over a member answer', member(), { blocked: true }, 'blocked'],
    ['stale but holds', member({ stale: true, verifiedAt: now - 500_000 }), {}, undefined],
    ['stale and removed', member({ stale: true, teams: [] }), {}, 'not_member'],
    ['GitHub down within the grace', { status: 'unavailable', reason: 'network', detail: '' }, { lastVerifiedAt: now - 599_999 }, undefined],
    ['GitHub down at the grace', { status: 'unavailable', reason: 'network', detail: '' }, { lastVerifiedAt: now - 600_000 }, 'unverifiable'],
    ['GitHub down, never verified', { status: 'unavailable', reason: 'timeout', detail: '' }, { lastVerifiedAt: undefined }, 'unverifiable'],
  ];
  for (const [name, record, over, reason, message] of cases) {
    const v = judge(session, record, { ...ctx, ...over });
    assert.equal(v.kind === 'revoke' ? v.reason : undefined, reason, name);
    if (v.kind === 'revoke') assert.match(v.message, /^access revoked: \S/, name);
    if (message) assert.equal(v.kind === 'revoke' && v.message, message, name);
  }
  const kept = judge(session, { status: 'unavailable', reason: 'network', detail: '' }, ctx);
  assert.deepEqual(kept, { kind: 'keep', unverified: true }, 'kept during an outage is marked unverified');
});

test('a webhook payload names whom to re-check; a payload without a login asks for nothing', () => {
  assert.deepEqual(recheckRequestOf('membership.removed', 'd1', { member: { login: 'Alice' }, team: { slug: 'sre' } }), { kind: 'login', login: 'Alice', event: 'membership.removed', deliveryId: 'd1', blocked: false });
  assert.deepEqual(recheckRequestOf('organization.member_removed', 'd2', { membership: { user: { login: 'bob' } } }), { kind: 'login', login: 'bob', event: 'organization.member_removed', deliveryId: 'd2', blocked: false });
  assert.equal((recheckRequestOf('org_block.blocked', 'd3', { blocked_user: { login: 'eve' } }) as { blocked: boolean }).blocked, true);
  assert.deepEqual(recheckRequestOf('team.deleted', 'd4', { team: { id: 1, name: 'Ops', slug: 'ops', deleted: true } }), { kind: 'team', team: 'ops', event: 'team.deleted', deliveryId: 'd4' });
  assert.equal(recheckRequestOf('membership.removed', 'd5', { member: null }), undefined);
  assert.equal(recheckRequestOf('team.deleted', 'd6', { team: { id: 1 } }), undefined);
  assert.equal(recheckRequestOf('push', 'd7', { member: { login: 'x' } }), undefined);
});

test('the keyed queue runs one key in order and different keys side by side; a failure does not stop the key', async () => {
  const errors: unknown[] = [];
  const q = new KeyedQueue((_k, err) => errors.push(err));
  const order: string[] = [];
  const step = (name: string, ms: number) => async () => {
    order.push(`${name}+`);
    await new Promise((r) => setTimeout(r, ms));
    order.push(`${name}-`);
  };
  void q.run('alice', step('a1', 40));
  void q.run('alice', async () => { throw new Error('boom'); });
  void q.run('alice', step('a2', 1));
  void q.run('bob', step('b1', 10));
  assert.equal(q.size, 2);
  await q.idle();
  assert.deepEqual(order.filter((x) => x.startsWith('a')), ['a1+', 'a1-', 'a2+', 'a2-']);
  assert.ok(order.indexOf('b1-') < order.indexOf('a1-'), 'bob did not wait for alice');
  assert.equal(errors.length, 1);
  assert.equal(q.size, 0, 'no key is kept once its work is done');
});
