import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { decide, githubKeySet } from '../../src/auth/decide.js';
import type { AuthDecision, OfferedKey } from '../../src/auth/types.js';
import type { MemberRecord } from '../../src/github/directory.js';

/** An OpenSSH ed25519 public key line built by hand (cheap: no key generation). */
function ed25519Line(): string {
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(randomBytes(32))]).toString('base64')}`;
}

function offer(line: string): OfferedKey {
  const k = ssh2.utils.parseKey(line);
  if (k instanceof Error) throw k;
  return { algo: k.type, data: k.getPublicSSH() };
}

const ed = ed25519Line();
const other = ed25519Line();
const rsa = ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }).public;
const member = (over: Partial<Extract<MemberRecord, { status: 'ok' }>> = {}): MemberRecord => ({
  status: 'ok', login: 'Alice', teams: ['ops'], pendingTeams: [], keys: [ed, rsa], verifiedAt: 1, stale: false, ...over,
});
const sk: OfferedKey = { algo: 'sk-ssh-ed25519@openssh.com', data: offer(ed).data };
const cert: OfferedKey = { algo: 'ssh-ed25519-cert-v01@openssh.com', data: offer(ed).data };

/** Every row of the table: [name, record, offered key, expected decision]. */
const TABLE: [string, MemberRecord, OfferedKey, AuthDecision][] = [
  ['GitHub unavailable', { status: 'unavailable', reason: 'timeout', detail: 'x' }, offer(ed), { kind: 'unavailable', reason: 'github_unavailable', detail: 'timeout' }],
  ['no such user', { status: 'no_such_user', login: 'ghost' }, offer(ed), { kind: 'deny', reason: 'no_such_user' }],
  ['not in any configured team', member({ teams: [] }), offer(ed), { kind: 'deny', reason: 'not_member' }],
  ['pending invitation only, right key', member({ teams: [], pendingTeams: ['ops'] }), offer(ed), { kind: 'deny', reason: 'pending_invitation' }],
  ['member, ed25519 key on GitHub', member(), offer(ed), { kind: 'allow', login: 'Alice', teams: ['ops'], stale: false }],
  ['member, rsa key on GitHub', member(), offer(rsa), { kind: 'allow', login: 'Alice', teams: ['ops'], stale: false }],
  ['member, served stale', member({ stale: true, teams: ['ops', 'dev'] }), offer(ed), { kind: 'allow', login: 'Alice', teams: ['ops', 'dev'], stale: true }],
  ['member, key not on GitHub', member(), offer(other), { kind: 'deny', reason: 'key_not_on_github' }],
  ['member, right blob under another algo', member(), { algo: 'ssh-rsa', data: offer(ed).data }, { kind: 'deny', reason: 'key_not_on_github' }],
  ['member with no keys', member({ keys: [] }), offer(ed), { kind: 'deny', reason: 'key_not_on_github' }],
  ['member offers a FIDO key', member(), sk, { kind: 'deny', reason: 'unsupported_key_type' }],
  ['member offers a certificate', member(), cert, { kind: 'deny', reason: 'unsupported_key_type' }],
  ['member whose GitHub list has junk lines', member({ keys: ['sk-ssh-ed25519@openssh.com AAAAGnNr', 'garbage', ed] }), offer(ed), { kind: 'allow', login: 'Alice', teams: ['ops'], stale: false }],
];

type Decide = typeof decide;
function failures(fn: Decide): string[] {
  return TABLE.filter(([, rec, key, want]) => {
    try { assert.deepEqual(fn(rec, key), want); return false; } catch { return true; }
  }).map(([name]) => name);
}

test('every row of the decision table', () => {
  for (const [name, rec, key, want] of TABLE) assert.deepEqual(decide(rec, key), want, name);
});

test('the table catches broken deciders', () => {
  const pendingGrants: Decide = (r, k) => (r.status === 'ok' && r.pendingTeams.length > 0 ? decide({ ...r, teams: r.pendingTeams }, k) : decide(r, k));
  const anyKey: Decide = (r, k) => (r.status === 'ok' && r.teams.length > 0 ? { kind: 'allow', login: r.login, teams: r.teams, stale: r.stale } : decide(r, k));
  const outageIsDeny: Decide = (r, k) => (r.status === 'unavailable' ? { kind: 'deny', reason: 'not_member' } : decide(r, k));
  assert.deepEqual(failures(pendingGrants), ['pending invitation only, right key']);
  assert.ok(failures(anyKey).includes('member, key not on GitHub'));
  assert.deepEqual(failures(outageIsDeny), ['GitHub unavailable']);
});

test('a warm decision over 10,000 members x 3 keys stays well under 1 ms at p99', () => {
  const records = Array.from({ length: 10_000 }, (_, i) => member({ login: `u${i}`, keys: [ed25519Line(), ed25519Line(), ed25519Line()] }));
  const offers = records.map((r) => offer((r as { keys: string[] }).keys[2] ?? ''));
  for (let i = 0; i < records.length; i++) decide(records[i]!, offers[i]!); // warm: parse once per record
  const times: number[] = [];
  for (let i = 0; i < records.length; i++) {
    const t0 = process.hrtime.bigint();
    const d = decide(records[i]!, offers[i]!);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    assert.equal(d.kind, 'allow');
  }
  times.sort((a, b) => a - b);
  const p99 = times[Math.floor(times.length * 0.99)] ?? Infinity;
  assert.ok(p99 < 0.2, `p99 ${p99} ms`);
});

test('parsed key sets are cached per keys array', () => {
  const keys = [ed, rsa];
  assert.equal(githubKeySet(keys), githubKeySet(keys));
  assert.equal(githubKeySet(keys).size, 2);
});
