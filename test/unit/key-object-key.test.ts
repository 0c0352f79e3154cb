import assert from 'node:assert/strict';
import test from 'node:test';
import ssh2, { type ParsedKey } from 'ssh2';
import { withKeyObjects } from '../../src/auth/key-object-key.js';
import { checkSignature } from '../../src/auth/verify.js';

const { utils } = ssh2;

/** A fresh ssh2 parse of a key (ed25519 drawn again when ssh2 writes one it cannot read). */
function parsed(type: 'ed25519' | 'ecdsa' | 'rsa'): { priv: ParsedKey; pub: ParsedKey; again: () => ParsedKey } {
  for (;;) {
    const pair = utils.generateKeyPairSync(type as 'ed25519', type === 'rsa' ? { bits: 2048 } as never : type === 'ecdsa' ? { bits: 256 } as never : undefined as never);
    const priv = utils.parseKey(pair.private);
    const pub = utils.parseKey(pair.public);
    if (priv instanceof Error || pub instanceof Error) continue;
    const one = (k: ParsedKey | ParsedKey[]) => (Array.isArray(k) ? k[0]! : k);
    return { priv: one(priv), pub: one(pub), again: () => one(utils.parseKey(pair.private) as ParsedKey) };
  }
}

/** Replaces the PEMs ssh2 keeps inside a parsed key, so only a KeyObject made earlier can still sign. */
function spoilPems(key: ParsedKey): void {
  const k = key as unknown as Record<symbol, unknown>;
  for (const s of Object.getOwnPropertySymbols(key)) if (typeof k[s] === 'string' && String(k[s]).includes('-----BEGIN')) k[s] = 'not a pem';
}

const data = Buffer.from('exchange hash');
const flipped = (sig: Buffer) => Buffer.concat([sig.subarray(0, -1), Buffer.from([sig[sig.length - 1]! ^ 1])]);

for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
  test(`${type}: the KeyObject key signs as ssh2 does, verifies what ssh2 signs, refuses a modified signature`, () => {
    const { priv, pub, again } = parsed(type);
    const reference = again();
    const fast = withKeyObjects(priv);
    const fastPub = withKeyObjects(pub);
    for (const algo of type === 'rsa' ? [undefined, 'sha256', 'sha512'] : [undefined]) {
      const mine = fast.sign(data, algo) as Buffer | Error;
      assert.ok(Buffer.isBuffer(mine), String(mine));
      // ed25519 and RSA PKCS#1 v1.5 are deterministic: the very same bytes. ECDSA is not: ssh2 must accept ours.
      if (type !== 'ecdsa') assert.deepEqual(mine, reference.sign(data, algo));
      assert.equal(reference.verify(data, mine, algo), true);
      assert.equal(fastPub.verify(data, reference.sign(data, algo), algo), true);
      assert.equal(fastPub.verify(data, flipped(mine), algo), false);
      assert.equal(fastPub.verify(Buffer.from('another hash'), mine, algo), false);
    }
  });
}

test('signing and verifying use the KeyObjects made once, not the PEM ssh2 re-parses on every call', () => {
  const { priv, pub } = parsed('ed25519');
  const fast = withKeyObjects(priv);
  const fastPub = withKeyObjects(pub);
  spoilPems(priv);
  spoilPems(pub);
  const sig = fast.sign(data) as Buffer | Error;
  assert.ok(Buffer.isBuffer(sig), String(sig));
  assert.equal(fastPub.verify(data, sig), true);
  // ssh2's contract: failures are returned, never thrown.
  assert.ok(fastPub.verify(data, Buffer.alloc(3)) !== true);
  assert.ok(withKeyObjects(parsed('ed25519').pub).sign(data) instanceof Error);
});

test('checkSignature: a client signature passes, the same one modified or for other data is refused, again and again (cached key)', () => {
  const { priv, pub } = parsed('ed25519');
  const offered = { algo: 'ssh-ed25519', data: pub.getPublicSSH() };
  const sig = priv.sign(data) as Buffer;
  for (let i = 0; i < 3; i++) {
    assert.equal(checkSignature(offered, data, sig, undefined), undefined);
    assert.equal(checkSignature(offered, data, flipped(sig), undefined), 'bad_signature');
    assert.equal(checkSignature(offered, Buffer.from('other'), sig, undefined), 'bad_signature');
  }
  // A cached key is found by its blob and type: the same blob claimed as another type is still refused.
  assert.equal(checkSignature({ algo: 'ecdsa-sha2-nistp256', data: offered.data }, data, sig, undefined), 'bad_signature');
  const rsa = parsed('rsa');
  const rsaOffered = { algo: 'ssh-rsa', data: rsa.pub.getPublicSSH() };
  assert.equal(checkSignature(rsaOffered, data, rsa.priv.sign(data, 'sha512') as Buffer, 'sha512'), undefined);
  assert.equal(checkSignature(rsaOffered, data, rsa.priv.sign(data, 'sha1') as Buffer, 'sha1'), 'sha1_signature');
});
