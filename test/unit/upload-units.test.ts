import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isLowercaseUuid, loadInstallId } from '../../src/upload/install-id.js';
import { backoffDelay, serverDelay } from '../../src/upload/backoff.js';
import { partTitle } from '../../src/upload/split.js';
import { Claims, HOST_TAG, parseClaim } from '../../src/upload/claims.js';

/** Small pure pieces of the uploader: install id file, backoff, titles, claim names. */

test('install id: generated once, lowercase UUID, mode 0600, the same for racing callers', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-id-'));
  try {
    const state = path.join(dir, 'state');
    const ids = await Promise.all(Array.from({ length: 8 }, () => loadInstallId(state)));
    assert.ok(isLowercaseUuid(ids[0]!));
    assert.ok(ids.every((i) => i === ids[0]), 'one id even when created concurrently');
    const st = await fs.stat(path.join(state, 'install-id'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(await loadInstallId(state), ids[0]);
    assert.deepEqual((await fs.readdir(state)).sort(), ['install-id'], 'no temporary files left');
    const configured = '0f8b2a5c-4c1e-4d36-9d6e-2d8c3a1b7e55';
    assert.equal(await loadInstallId(state, configured), configured);
    await assert.rejects(loadInstallId(state, configured.toUpperCase()), { code: 'ERR_UPLOAD_INSTALL_ID' });
    await fs.writeFile(path.join(state, 'install-id'), 'not-a-uuid\n');
    await assert.rejects(loadInstallId(state), { code: 'ERR_UPLOAD_INSTALL_ID' }, 'a bad stored id is never silently replaced');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('backoff grows to the cap with jitter; server delays from retry-after and x-ratelimit-reset', () => {
  const o = { baseMs: 1000, maxMs: 300_000, unauthorizedMs: 60_000 };
  assert.equal(backoffDelay(0, o, () => 0), 500);
  assert.equal(backoffDelay(0, o, () => 1), 1000);
  assert.equal(backoffDelay(3, o, () => 1), 8000);
  assert.equal(backoffDelay(50, o, () => 1), 300_000, 'capped, no overflow');
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(serverDelay({ 'retry-after': '7' }, now), 7000);
  assert.equal(serverDelay({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }, now), 30_000);
  assert.equal(serverDelay({ 'x-ratelimit-reset': String(now / 1000 + 12) }, now), 12_000);
  assert.equal(serverDelay({ 'retry-after': '2', 'x-ratelimit-reset': String(now / 1000 + 5) }, now), 5000, 'the later of the two');
  assert.equal(serverDelay({ 'retry-after': 'soon' }, now), undefined);
  assert.equal(serverDelay({ 'x-ratelimit-reset': String(now / 1000 - 5) }, now), 0, 'a reset in the past means now');
  assert.equal(serverDelay({ 'retry-after': '999999' }, now), 3_600_000, 'an absurd delay is capped at an hour');
});

test('part titles keep within 128 characters and never cut a character in half', () => {
  assert.equal(partTitle('deploy', 2, 5), 'deploy (part 2/5)');
  const long = partTitle('x'.repeat(300), 12, 140);
  assert.equal(long.length, 128);
  assert.ok(long.endsWith(' (part 12/140)'));
  const emoji = partTitle('🙂'.repeat(200), 1, 2);
  assert.ok(Array.from(emoji).length <= 128);
  assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(emoji), 'no lone surrogate');
});

test('claim names carry the owner and the time', () => {
  assert.deepEqual(parseClaim('2026-01-01T00-00-00Z-alice-ab12.cast.claim.0badc0de.4242.a1b2c3.1767225600'), {
    base: '2026-01-01T00-00-00Z-alice-ab12', host: '0badc0de', pid: 4242, token: 'a1b2c3', at: 1_767_225_600_000,
  });
  assert.equal(parseClaim('x.cast'), undefined);
  assert.equal(parseClaim('x.cast.part'), undefined);
});

test('a claim from another host is judged by its heartbeat only, never by a pid', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-claims-'));
  const claims = new Claims(dir, 60_000);
  try {
    const now = Math.floor(Date.now() / 1000);
    const elsewhere = `r.cast.claim.${HOST_TAG === '00000000' ? '11111111' : '00000000'}.999999.abcdef.${now}`;
    const deadHere = `s.cast.claim.${HOST_TAG}.999999.abcdef.${now}`;
    for (const f of [elsewhere, deadHere]) await fs.writeFile(path.join(dir, f), 'x');
    assert.equal(await claims.isStale(elsewhere), false, 'pid 999999 means nothing on another host');
    assert.equal(await claims.isStale(deadHere), true, 'on this host a dead pid frees the claim');
    const old = new Date(Date.now() - 120_000);
    const oldElsewhere = elsewhere.replace(`.${now}`, `.${now - 120}`);
    await fs.rename(path.join(dir, elsewhere), path.join(dir, oldElsewhere));
    await fs.utimes(path.join(dir, oldElsewhere), old, old);
    assert.equal(await claims.isStale(oldElsewhere), true, 'no heartbeat for longer than the bound');
    assert.ok(await claims.takeOver(oldElsewhere));
    assert.equal(await claims.takeOver(oldElsewhere), undefined, 'taken over once');
  } finally {
    claims.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
