import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupAccount, NO_ACCOUNT } from '../../src/launch/account.js';
import { hasCode } from '../../src/errors.js';
import { ensureTestAccount, groupId } from '../support/accounts.js';

test('lookupAccount reads passwd and every group through NSS', async () => {
  const root = await lookupAccount('root');
  assert.equal(root.uid, 0);
  assert.equal(root.gid, 0);
  assert.equal(root.home, '/root');
  assert.ok(root.groups.includes(0));

  const acct = await ensureTestAccount('tsshacct', { groups: ['tsshacct-a', 'tsshacct-b'] });
  assert.equal(acct.name, 'tsshacct');
  assert.equal(acct.home, '/home/tsshacct');
  assert.equal(acct.shell, '/bin/bash');
  assert.ok(acct.uid > 0);
  for (const g of ['tsshacct-a', 'tsshacct-b']) assert.ok(acct.groups.includes(await groupId(g)), g);
  assert.ok(acct.groups.includes(acct.gid), 'primary group listed');
});

test('ensureTestAccount is idempotent and adds groups to an existing account', async () => {
  const first = await ensureTestAccount('tsshacct2');
  const again = await ensureTestAccount('tsshacct2', { groups: ['tsshacct-c'] });
  assert.equal(again.uid, first.uid);
  assert.ok(again.groups.includes(await groupId('tsshacct-c')));
});

test('missing or hostile names throw TEAMSSH_NO_ACCOUNT', async () => {
  // "0" would be a uid lookup and "-h" an option if passed through unchecked.
  for (const name of ['no-such-user-teamssh', '0', '1000', '-h', 'a b', '', 'x:y', '../etc']) {
    await assert.rejects(lookupAccount(name), (e) => hasCode(e, NO_ACCOUNT), name);
  }
});
