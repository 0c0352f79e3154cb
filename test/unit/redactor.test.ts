import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redactor, MAX_HOLD } from '../../src/recording/redactor.js';
import { BUILTIN_RULES, operatorRules, recordingRules, type RedactRule } from '../../src/recording/redact-rules.js';
import { parseRedactPatterns } from '../../src/recording/redact-patterns.js';

// Built at run time so no scanner mistakes this file for a leak.
const TOKEN = ['ghp', '_', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('');
const PAT = ['github', '_pat_', '11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghij'].join('');
const AWS = ['AKIA', 'IOSFODNN7EXAMPLE'].join('');
const KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACDc3VtbWVyIGlzIGEgZ29vZCB0aW1lIHRvIHdyaXRlIHRlc3Rz',
  '-----END OPENSSH PRIVATE KEY-----',
].join('\r\n');
const stars = (s: string) => '*'.repeat([...s].length);
const keyRedacted = KEY.split('\r\n').map((l, i, all) => (i === 0 || i === all.length - 1 ? l : stars(l))).join('\r\n');

/** Feeds chunks (chunk i arrives at time i) and returns the written pieces and the counts. */
function run(chunks: Array<string | Buffer>, rules: readonly RedactRule[] = BUILTIN_RULES): { text: string; pieces: Array<[string, number]>; counts: Record<string, number> } {
  const pieces: Array<[string, number]> = [];
  const r = new Redactor(rules, (t, at) => pieces.push([t.toString(), at]));
  chunks.forEach((c, i) => r.write(typeof c === 'string' ? Buffer.from(c) : c, i));
  r.end(chunks.length);
  return { text: pieces.map((p) => p[0]).join(''), pieces, counts: r.counts };
}

test('each built-in rule is caught and replaced by as many asterisks as it has characters; the rest is untouched', () => {
  for (const prefix of ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_']) {
    const tok = prefix + TOKEN.slice(4);
    assert.equal(run([`T=${tok}\r\n`]).text, `T=${stars(tok)}\r\n`, prefix);
  }
  assert.equal(run([`pat ${PAT}.`]).text, `pat ${stars(PAT)}.`);
  assert.equal(run([`id ${AWS} x`]).text, `id ${stars(AWS)} x`);
  assert.equal(run([`id ${AWS.replace('AKIA', 'ASIA')}\n`]).text, `id ${stars(AWS)}\n`);
  const key = run([`$ cat id\r\n${KEY}\r\n$ `]);
  assert.equal(key.text, `$ cat id\r\n${keyRedacted}\r\n$ `, 'BEGIN/END lines and line ends stay; the body is asterisks');
  assert.deepEqual(key.counts, { 'github-token': 0, 'aws-access-key-id': 0, 'private-key': 1 });
  const plain = 'ghp_short gho_ AKIA123 -----BEGIN PUBLIC KEY----- github_pat_x ls -la\r\n\x1b[1mbold\x1b[0m é 中文 😀\r\n';
  assert.equal(run([plain]).text, plain, 'nothing that is not a secret changes');
});

test('a secret split between any two reads is found, and each piece keeps the time it arrived', () => {
  const line = `export T=${TOKEN} AK=${AWS} done\r\n`;
  const want = line.replace(TOKEN, stars(TOKEN)).replace(AWS, stars(AWS));
  for (let i = 1; i < line.length; i++) {
    const r = run([line.slice(0, i), line.slice(i)]);
    assert.equal(r.text, want, `split at ${i}`);
    assert.equal(r.pieces.filter((p) => p[1] === 0).map((p) => p[0]).join('').length, i, `the first ${i} characters keep time 0`);
  }
  const block = `x\r\n${KEY}\r\n`;
  for (let i = 1; i < block.length; i += 7) assert.equal(run([block.slice(0, i), block.slice(i)]).text, `x\r\n${keyRedacted}\r\n`, `key split at ${i}`);
  const three = run([TOKEN.slice(0, 10), TOKEN.slice(10, 20), `${TOKEN.slice(20)}\n`]);
  assert.deepEqual(three.pieces, [['*'.repeat(10), 0], ['*'.repeat(10), 1], [`${'*'.repeat(TOKEN.length - 20)}\n`, 2]]);
});

test('a read that can hold no secret passes as it came, and its end still serves as context for the next read', () => {
  const r = run([Buffer.from('ordinary output 12345\r\nX'), `${AWS} `, Buffer.from('more\r\n '), `${AWS}.`]);
  assert.equal(r.text, `ordinary output 12345\r\nX${AWS} more\r\n ${stars(AWS)}.`, 'an id glued to the X before it is no key id; one after a space is');
  assert.equal(r.counts['aws-access-key-id'], 1);
  assert.ok(r.pieces.some((p) => p[0] === 'ordinary output 12345\r\nX'), 'the plain read is written whole, at once');
});

test('escape sequences inside a secret are kept and skipped over, also when a read ends inside one', () => {
  // grep --color highlights the match in the middle of the token.
  const coloured = `x \x1b[01;31m\x1b[K${TOKEN.slice(0, 4)}\x1b[m\x1b[K${TOKEN.slice(4)}\r\n`;
  const want = `x \x1b[01;31m\x1b[K****\x1b[m\x1b[K${'*'.repeat(TOKEN.length - 4)}\r\n`;
  for (let i = 1; i < coloured.length; i++) assert.equal(run([coloured.slice(0, i), coloured.slice(i)]).text, want, `split at ${i}`);
  // A token in a window title (OSC 0) is redacted too: titles are recorded.
  assert.equal(run([`\x1b]0;${TOKEN}\x07ok`]).text, `\x1b]0;${stars(TOKEN)}\x07ok`);
});

test('UTF-8 characters split between reads stay whole, and a matched character is one asterisk however many bytes it has', () => {
  const rules = operatorRules([{ name: 'word', source: 'sécret-\\p{L}+' }]);
  const bytes = Buffer.from(`é ${TOKEN} 中 sécret-日本語 😀\n`);
  const want = `é ${stars(TOKEN)} 中 ${stars('sécret-日本語')} 😀\n`;
  for (let i = 1; i < bytes.length; i++) {
    const r = run([bytes.subarray(0, i), bytes.subarray(i)], [...BUILTIN_RULES, ...rules]);
    assert.equal(r.text, want, `split at byte ${i}`);
    assert.doesNotMatch(r.text, /\ufffd/);
  }
});

test('held-back text is written after a short quiet time, with its own time, without waiting for more output', async () => {
  const pieces: Array<[string, number]> = [];
  const r = new Redactor(BUILTIN_RULES, (t, at) => pieces.push([t.toString(), at]), 30);
  r.write(Buffer.from('prompt$ g'), 5);
  assert.deepEqual(pieces, [['prompt$ ', 5]], 'a trailing "g" could start a token: held');
  await new Promise((res) => setTimeout(res, 80));
  assert.deepEqual(pieces, [['prompt$ ', 5], ['g', 5]]);
  // An unfinished token flushed by the quiet time is still replaced.
  r.write(Buffer.from(`x ${TOKEN.slice(0, 20)}`), 9);
  await new Promise((res) => setTimeout(res, 80));
  assert.equal(pieces.map((p) => p[0]).join(''), `prompt$ gx ${'*'.repeat(20)}`);
  r.end(10);
});

test('hold-back is bounded: a BEGIN line without END is written after MAX_HOLD characters, its PEM-looking body redacted', () => {
  const body = 'QUJD'.repeat(20) + '\r\n';
  const pieces: string[] = [];
  const r = new Redactor(BUILTIN_RULES, (t) => pieces.push(t.toString()), 60_000);
  r.write(Buffer.from('-----BEGIN RSA PRIVATE KEY-----\r\n'), 0);
  let written = 0;
  for (let i = 0; written === 0 && i < 1000; i++) {
    r.write(Buffer.from(body), i);
    written = pieces.join('').length;
  }
  assert.ok(written > 0 && written <= MAX_HOLD + 2 * body.length, `written after ~${MAX_HOLD} characters (${written})`);
  assert.doesNotMatch(pieces.join(''), /QUJD/, 'the body is redacted');
  r.end(0);
  const out = run(['-----BEGIN EC PRIVATE KEY-----\r\nMHcCAQEEIB\r\nuser@host:~$ ']).text;
  assert.equal(out, '-----BEGIN EC PRIVATE KEY-----\r\n**********\r\n****@host:~$ ', 'a cut-off block at the end: redacted up to what cannot be PEM');
});

test('operator patterns: named, counted, found across reads, lookbehind keeps the label; redaction off means no rules', () => {
  const { patterns, problems } = parseRedactPatterns('# comment\n\ndb-password = (?<=password=)\\S+\nnpm = npm_[A-Za-z0-9]{36}\n');
  assert.deepEqual(problems, []);
  const rules = [...BUILTIN_RULES, ...operatorRules(patterns)];
  const npm = `npm_${'a'.repeat(36)}`;
  const line = `password=hunter2 and ${npm}\n`;
  for (let i = 1; i < line.length; i++) {
    const r = run([line.slice(0, i), line.slice(i)], rules);
    assert.equal(r.text, `password=******* and ${stars(npm)}\n`, `split at ${i}`);
    assert.equal(r.counts['db-password'], 1);
    assert.equal(r.counts.npm, 1);
  }
  assert.equal(recordingRules({ redact: false, redactPatterns: patterns }), null);
  assert.equal(recordingRules({ redact: true, redactPatterns: patterns })!.length, BUILTIN_RULES.length + 2);
});

test('a bad patterns file names each bad line and pattern', () => {
  const { patterns, problems } = parseRedactPatterns('ok = a+\nbroken = (unclosed\nno separator\nempty = x*\nok = b\ngithub-token = c\n');
  assert.deepEqual(patterns, [{ name: 'ok', source: 'a+' }]);
  assert.equal(problems.length, 5);
  assert.match(problems[0]!, /^line 2: pattern "broken" is not a valid regular expression/);
  assert.match(problems[1]!, /^line 3: must be NAME = REGEX/);
  assert.match(problems[2]!, /^line 4: pattern "empty" matches the empty string/);
  assert.match(problems[3]!, /^line 5: pattern "ok" is named twice/);
  assert.match(problems[4]!, /^line 6: pattern "github-token" is named twice/);
});

test('a read without any rule\'s tail byte skips the needle searches: only the ESC test is left', () => {
  const written: string[] = [];
  const r = new Redactor(BUILTIN_RULES, (t) => written.push(t.toString()));
  const real = Buffer.prototype.includes;
  let searches = 0;
  Buffer.prototype.includes = function (this: Buffer, ...args: Parameters<Buffer['includes']>) {
    searches++;
    return real.apply(this, args);
  };
  try {
    // `seq` output: no g, A or -, so neither token prefix nor key header can be in it.
    for (let i = 0; i < 10; i++) r.write(Buffer.from(`${i * 1000}\r\n${i * 1000 + 1}\r\n`), i);
  } finally {
    Buffer.prototype.includes = real;
  }
  r.end(10);
  assert.equal(written.join(''), Array.from({ length: 10 }, (_, i) => `${i * 1000}\r\n${i * 1000 + 1}\r\n`).join(''));
  // One ESC test per read; the five needle searches (gh, github_pat_, AKIA, ASIA, -----BEGIN) are skipped.
  assert.equal(searches, 10);
});
